"""The structure protocol on a given list of graphs (a JSON-lines file), and its paired report."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sparsernn.errors import ConfigError, DataError
from sparsernn.nn import GraphClassifier, load_model
from sparsernn.results import load, load_metrics, run_dir
from sparsernn.studies import expand, parse_recipe, run_sweep
from sparsernn.studies.protocols.graph_file import read_graph_file
from sparsernn.studies.reports.paired import paired_summary, reference_table
from sparsernn.studies.reports.structure import report

pytestmark = pytest.mark.usefixtures("one_torch_thread")

THESIS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "darji-thesis"
# 0→1, 0→2, 1→2, 1→4, 2→3: layers [[0], [1], [2, 4], [3]]; the thesis' order may differ inside a layer
LINES = [
    {"nodes": [0, 1, 2, 3, 4], "edges": [[0, 2], [0, 1], [1, 2], [2, 3], [1, 4]], "family": "mine"}
    | {
        "cell": "gru",
        "index": 0,
        "thesis_layers": [[0], [1], [4, 2], [3]],
        "thesis_result": {"test_acc": 0.9},
    },
    {"nodes": [0, 1, 2, 3], "edges": [[0, 1], [1, 2], [2, 3], [0, 3]], "family": "mine", "cell": "gru"}
    | {"index": 1, "thesis_result": {"test_acc": 0.5, "test_loss": 0.7}},
    {"nodes": [0, 1, 2], "edges": [[0, 1], [1, 2]], "family": "mine", "cell": "lstm", "index": 0},
]


def _write(path: Path, lines: list) -> Path:
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _configs(graphs: Path, seeds: tuple = (0,), **params) -> list:
    recipe = {
        "seeds": list(seeds),
        "study": "paired",
        "protocol": "darji_structure",
        "data": {"name": "darji_reber", "options": {"n_valid": 40}, "batch_size": 16, "eval_batch_size": 32},
        "model": {"cell": "gru"},
        "train": {"epochs": 1, "lr": 0.01, "clip": 5.0},
        "params": {"graphs": str(graphs), "family": "mine", "count": 2, **params},
    }
    return expand(parse_recipe(recipe))


@pytest.mark.parametrize("name", ["g.jsonl", "g.jsonl.gz"])
def test_a_graph_file_reads_plain_or_gzipped(tmp_path, name):
    records = read_graph_file(_write(tmp_path / name, [*LINES, ""]))
    assert [r.line for r in records] == [1, 2, 3]
    assert records[0].layers == ((0,), (1,), (4, 2), (3,)) and records[0].reference_accuracy == 0.9
    assert records[1].reference_loss == 0.7 and records[2].reference_accuracy is None
    assert nx.utils.graphs_equal(records[1].graph(), nx.cycle_graph(4))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "line 2: not valid JSON"),
        ({"nodes": [0, 1]}, "line 2: expected a JSON object with 'nodes' and 'edges'"),
        ({"nodes": [0, 1], "edges": [[0, 5]]}, "line 2: edge [0, 5] is not a pair"),
        ({"nodes": [0, 1, 2], "edges": [[0, 1], [1, 2]], "layers": [[0, 1], [2]]}, "line 2: "),
        ({"nodes": [0, 1, 2, 3], "edges": [[0, 1], [2, 3]]}, "line 2: "),  # disconnected
    ],
)
def test_a_bad_line_is_named_with_its_file_and_line(tmp_path, bad, message):
    path = _write(tmp_path / "bad.jsonl", [LINES[0], bad])
    with pytest.raises(DataError, match=rf"graph file .*bad\.jsonl {message}".replace("[", r"\[")) as error:
        read_graph_file(path)
    assert "\n" not in str(error.value)


def test_the_recipe_is_checked_before_any_run(tmp_path):
    path = _write(tmp_path / "g.jsonl", LINES)
    with pytest.raises(ConfigError, match=r"params.graphs: .*graph file .*missing\.jsonl does not exist"):
        _configs(tmp_path / "missing.jsonl")
    with pytest.raises(ConfigError, match=r"holds 1 graphs of family 'mine' \(cell lstm\); graphs 0 \.\. 1"):
        _configs(path)  # lstm has one graph of the family, two are asked
    with pytest.raises(ConfigError, match="file_layers needs graphs"):
        expand(parse_recipe({"study": "s", "protocol": "darji_structure", "params": {"file_layers": True}}))
    assert len(_configs(path, count=1)) == 1


def test_file_graphs_train_with_the_file_layering_and_log_the_reference(tmp_path):
    path = _write(tmp_path / "g.jsonl", LINES[:2])
    configs = _configs(path, seeds=(0, 1), file_layers=True, gate_masks="interleaved")
    assert run_sweep(configs, tmp_path / "results", progress=False).ok == 2
    folder = run_dir(tmp_path / "results", configs[0].key)
    graphs = json.loads((folder / "graphs.json").read_text())
    assert [(g["graph"], g["line"], g.get("reference_accuracy")) for g in graphs] == [
        (0, 1, 0.9),
        (1, 2, 0.5),
    ]
    model = load_model(folder / "graph_0.safetensors")
    expected = GraphClassifier.from_graph(
        nx.Graph(LINES[0]["edges"]),
        "gru",
        vocab_size=128,
        gate_masks="interleaved",
        layers=[[0], [1], [4, 2], [3]],
    )
    assert expected.rnn.masks  # the interleaved masks in the file's unit order, as built from the file
    for name, mask in expected.rnn.masks.items():
        assert np.array_equal(model.rnn.masks[name].numpy(), mask.numpy()), name
    default = GraphClassifier.from_graph(
        nx.Graph(LINES[0]["edges"]), "gru", vocab_size=128, gate_masks="interleaved"
    )
    assert any(
        not np.array_equal(m.numpy(), model.rnn.masks[n].numpy()) for n, m in default.rnn.masks.items()
    )
    metrics = load_metrics(tmp_path / "results")
    refs = reference_table(metrics)
    assert sorted(refs[["graph", "reference_accuracy"]].values.tolist()) == [
        [0, 0.9],
        [0, 0.9],
        [1, 0.5],
        [1, 0.5],
    ]
    lines = report(load(tmp_path / "results"), metrics, tmp_path)
    assert any("next to the thesis'" in line for line in lines)
    paired = lines.index(next(line for line in lines if line.startswith("| cell | family | graphs")))
    assert lines[paired + 2].startswith("| gru | mine | 2 |")  # one model per graph: the lowest seed
    assert lines[paired - 1] != "<!-- headline -->"  # with several seeds, the seed noise leads instead
    assert any(line.startswith("### Seed noise") for line in lines)
    assert "4 trained models (2 graphs; sections without seeds use the lowest seed of each)" in "\n".join(
        lines
    )


def test_paired_summary_matches_scipy():
    rng = np.random.default_rng(0)
    ours, theirs = rng.random(30), rng.random(30)
    table = pd.DataFrame({"cell": "gru", "family": ["a"] * 15 + ["b"] * 15, "accuracy": ours})
    table["reference_accuracy"] = theirs
    summary = paired_summary(table).set_index("family")
    assert list(summary.index) == ["a", "b", "all"]
    assert summary.loc["all", "pearson"] == pytest.approx(stats.pearsonr(ours, theirs)[0])
    assert summary.loc["a", "spearman"] == pytest.approx(stats.spearmanr(ours[:15], theirs[:15])[0])
    assert summary.loc["b", "at chance thesis"] == pytest.approx(np.mean(theirs[15:] < 0.55))
    assert summary.loc["all", "median ours"] == pytest.approx(np.median(ours))


def test_the_thesis_graphs_validate_and_select_by_cell_and_family():
    path = THESIS / "structure_graphs.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"the thesis' data is not at {THESIS.resolve()} (CI has it)")
    from sparsernn.studies.protocols.graph_file import file_graphs

    record = file_graphs(path, "watts_strogatz", "lstm", 7)
    assert (record.cell, record.family, record.index) == ("lstm", "watts_strogatz", 7)
    assert 0.0 <= record.reference_accuracy <= 1.0 and record.layers is not None
