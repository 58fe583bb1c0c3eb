"""Everything a recipe names is checked before the first run starts: one line, exit status 2, the field named.

Also: recipes from standard input and from pipes, data folders reported as absolute paths, and one
intra-op thread per run whatever the worker count.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from sparsernn.cli import main
from sparsernn.errors import ConfigError, DataError
from sparsernn.results import write_run
from sparsernn.studies.recipe import MAX_RUNS, expand, load_recipe, parse_recipe_text, read_recipe

pytestmark = pytest.mark.timeout(120)

TINY = {
    "study": "early",
    "data": {"name": "mnist1d", "options": {"n_train": 20, "n_test": 10}, "batch_size": 10},
    "model": {"cell": "lstm", "hidden_size": 4},
    "train": {"epochs": 1},
    "params": {"save_model": False},
}
ITERATIVE = {**TINY, "protocol": "iterative_pruning", "params": {"densities": [1.0, 0.5]}}


def _with(base: dict, dotted: str, value: object) -> dict:
    recipe = json.loads(json.dumps(base))
    node = recipe
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return recipe


def _robust(levels: list, kind: str = "gaussian") -> dict:
    return _with(ITERATIVE, "params.robustness", {"kind": kind, "levels": levels})


NAN, INF = float("nan"), float("inf")
BAD = [
    (_with(TINY, "data.name", "imagenet"), "data.name: unknown dataset 'imagenet'"),
    (_with(TINY, "data.options.n_trian", 5), "data.options: unknown option 'n_trian'"),
    (_with(TINY, "data.options.n_train", 1e30), "option n_train of dataset 'mnist1d' must be an integer"),
    (_with(TINY, "data.options.n_train", 10**9), "must be an integer in"),
    (_with(_with(TINY, "data.name", "cifar10"), "data.options.layout", "diag"), "option layout"),
    (_with(_with(TINY, "data.name", "cifar10"), "data.options.download", "yes"), "option download"),
    (_with(TINY, "model.cell", "lstn"), "model.cell: Input should be"),
    ({**TINY, "protocol": "trian"}, "protocol: unknown protocol 'trian'; choose from controlled_pruning, "),
    (_with(TINY, "model.num_layers", 100000), "model.num_layers: Input should be less than or equal to 64"),
    (_with(TINY, "model.hidden_size", 10**7), "model.hidden_size: Input should be less than or equal"),
    (_with(TINY, "train.epochs", 10**9), "train.epochs: Input should be less than or equal"),
    (_with(TINY, "train.lr", INF), "train.lr: Input should be a finite number"),
    (_with(TINY, "params.sparsity", 2.0), "params.sparsity"),
    (_with(TINY, "study", ".."), "study: a study is a plain name"),
    (_with(TINY, "study", "."), "study: a study is a plain name"),
    (_with(TINY, "study", "a/b"), "study: a study is a plain name"),
    (_with(TINY, "seeds", [2**40]), "seeds.0: Input should be less than or equal"),
    (_robust([NAN]), "params.robustness.levels.0: Input should be a finite number"),
    (_robust([INF]), "params.robustness.levels.0: Input should be a finite number"),
    (_robust([-1]), "params.robustness: gaussian noise levels are standard deviations"),
    (_robust([-INF], kind="snr"), "params.robustness.levels.0: Input should be a finite number"),
    (_robust([10], kind="snr"), "params.robustness: kind snr needs speech data"),
    (_with(_robust([0.1]), "data", {"name": "darji_reber"}), "gaussian noise needs float inputs"),
    ({**TINY, "protocol": "darji_structure", "params": {"first": 10**30}}, "params.first: Input should be"),
    ({**TINY, "protocol": "darji_structure", "params": {"count": 10**7}}, "params.count: Input should be"),
    ({**TINY, "protocol": "darji_structure", "params": {"n_max": 10**6}}, "params.n_max: Input should be"),
    ({**TINY, "protocol": "darji_structure", "params": {"family": "star"}}, "unknown graph family 'star'"),
    (
        {
            **TINY,
            "sweep": {"train.lr": [0.1 + k / 1e5 for k in range(2000)], "train.epochs": list(range(1, 1001))},
        },
        f"sweep: 2000000 runs .* exceed the maximum of {MAX_RUNS}",
    ),
]


@pytest.mark.parametrize(("recipe", "message"), BAD, ids=[m[:40] for _, m in BAD])
def test_bad_recipes_fail_before_any_run_in_one_line(tmp_path, recipe, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True))
    results = tmp_path / "results"
    start = time.perf_counter()
    out = CliRunner().invoke(main, ["run", str(path), "--results", str(results), "--quiet"])
    assert time.perf_counter() - start < 5  # the 2,000,000-run sweep is refused before expanding
    assert out.exit_code == 2, out.output
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: recipe {path}: ")
    import re

    assert re.search(message, lines[0]), lines[0]
    assert not results.exists()  # nothing ran, nothing was written


def test_a_huge_sweep_is_refused_well_under_a_second():
    sweep = {
        "train.lr": [k / 1e3 for k in range(1, 101)],
        "train.epochs": list(range(1, 101)),
        "model.hidden_size": list(range(1, 101)),
    }
    text = yaml.safe_dump({**TINY, "seeds": list(range(20)), "sweep": sweep})
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"sweep: 20000000 runs"):
        parse_recipe_text(text)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("depth", [3, 8, 9])
def test_yaml_alias_bombs_are_refused_at_load_time(tmp_path, depth):
    lines = ["study: bomb", "data:", "  options:", "    a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, depth + 1)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 1000
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"anchors and aliases .* are not allowed in recipes \(line 4\)"):
        read_recipe(path)
    assert time.perf_counter() - start < 1.0
    out = CliRunner().invoke(main, ["run", str(path), "--results", str(tmp_path / "r")])
    assert out.exit_code == 2 and out.output.count("\n") == 1


def test_an_impossible_results_folder_fails_before_the_first_run(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(TINY))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for results in (blocker / "results", blocker / "a" / "b"):
        out = CliRunner().invoke(main, ["run", str(path), "--results", str(results), "--quiet"])
        assert out.exit_code == 2, out.output
        lines = out.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: results folder {results}: cannot create")
    assert blocker.read_text() == "not a folder"


def test_a_read_only_results_folder_fails_before_the_first_run(tmp_path, monkeypatch):
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(TINY))
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)  # root ignores chmod: simulate it
    out = CliRunner().invoke(main, ["run", str(path), "--results", str(tmp_path / "ro"), "--quiet"])
    assert out.exit_code == 2 and "(Permission denied); expected a writable folder" in out.output
    assert not list((tmp_path / "ro").iterdir())


def _summaries(results: Path) -> dict[str, dict]:
    runs = {}
    for path in sorted(results.glob("*/*/seed_*/summary.json")):
        summary = json.loads(path.read_text())
        summary.pop("wall_s")
        runs[str(path.relative_to(results))] = summary
    return runs


def test_recipe_from_standard_input(tmp_path):
    results = tmp_path / "results"
    out = CliRunner().invoke(
        main, ["run", "-", "--results", str(results), "--quiet"], input=yaml.safe_dump(TINY)
    )
    assert out.exit_code == 0, out.output
    assert "1 runs: 0 already complete, 1 finished, 0 failed" in out.stdout
    assert len(_summaries(results)) == 1
    bad = CliRunner().invoke(main, ["run", "-", "--results", str(results)], input="study: ..\n")
    assert bad.exit_code == 2 and bad.output.startswith("error: recipe <stdin>: study: ")


def test_recipe_from_a_pipe_read_once(tmp_path):
    """``<(...)`` hands the command /dev/fd/N: not a regular file, readable once."""
    read, write = os.pipe()
    os.write(write, yaml.safe_dump(TINY).encode())
    os.close(write)
    try:
        recipe, configs = load_recipe(f"/dev/fd/{read}")
    finally:
        os.close(read)
    assert recipe.study == "early" and len(configs) == 1


def test_data_folders_are_resolved_and_reported(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = _with(_with(TINY, "data.name", "cifar10"), "data.options", {"root": "here/../cifar"})
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    out = CliRunner().invoke(main, ["run", "r.yaml", "--results", "results", "--quiet"])
    assert f"data: cifar10 in {tmp_path / 'cifar'}" in out.stdout.splitlines()
    (config,) = expand(parse_recipe_text(yaml.safe_dump(recipe)))
    assert config.data.options["root"] == "here/../cifar"  # the run's identity is unchanged


def test_every_run_gets_one_intra_op_thread_whatever_the_worker_count(monkeypatch):
    from sparsernn.studies import sweep
    from sparsernn.studies.recorder import RunResult

    seen = []

    def spy(config, **kwargs):
        seen.append(torch.get_num_threads())
        return RunResult(config, "ok", {})

    monkeypatch.setattr(sweep, "execute", spy)
    before = torch.get_num_threads()
    configs = expand(parse_recipe_text(yaml.safe_dump({**TINY, "seeds": [0, 1]})))
    sweep.run_local(configs, lambda result: None, workers=1)
    sweep.run_local(configs[:1], lambda result: None, workers=3)
    assert seen == [1, 1, 1]
    assert torch.get_num_threads() == before  # restored afterwards


def test_summaries_are_bit_identical_with_one_or_two_workers(tmp_path):
    recipe = tmp_path / "lstm.yaml"
    recipe.write_text(yaml.safe_dump({**TINY, "seeds": [0, 1], "model": {"cell": "lstm", "hidden_size": 16}}))
    outputs = {}
    for workers in (1, 2):
        results = tmp_path / f"w{workers}"
        out = CliRunner().invoke(
            main, ["run", str(recipe), "--results", str(results), "--workers", str(workers), "--quiet"]
        )
        assert out.exit_code == 0, out.output
        outputs[workers] = _summaries(results)
    assert len(outputs[1]) == 2 and outputs[1] == outputs[2]


def _cli_run(path: Path, results: Path, *extra: str):
    return CliRunner().invoke(main, ["run", str(path), "--results", str(results), "--quiet", *extra])


def _smnist_recipe(tmp_path, monkeypatch, prepare):
    """A sequential-MNIST recipe asking for ``download: true``, with the download replaced by ``prepare``."""
    from sparsernn.data import registry

    monkeypatch.setenv("SPARSERNN_DATA", str(tmp_path / "home"))
    original = registry._record
    offline = dataclasses.replace(original("sequential_mnist"), prepare=prepare)
    monkeypatch.setattr(
        registry, "_record", lambda name: offline if name == "sequential_mnist" else original(name)
    )
    recipe = tmp_path / "smnist.yaml"
    data = {"name": "sequential_mnist", "options": {"download": True, "n_train": 20}, "batch_size": 10}
    recipe.write_text(yaml.safe_dump({**TINY, "data": data}))
    return recipe


def test_a_failed_download_stops_the_study_before_any_run(tmp_path, monkeypatch):
    calls = []

    def offline(root):
        calls.append(root)
        raise DataError("no network")

    out = _cli_run(_smnist_recipe(tmp_path, monkeypatch, offline), tmp_path / "results")
    assert out.exit_code == 2, out.output
    home = tmp_path / "home" / "sequential_mnist"
    assert out.stderr == (
        f"error: dataset 'sequential_mnist': download into {home} failed (no network); "
        "get the files with: sparsernn data prepare sequential_mnist\n"
    )
    assert len(calls) == 1  # one download for the study, not one per run
    assert not list((tmp_path / "results").rglob("*.json"))  # nothing ran or was stored


def test_a_dry_run_does_not_download(tmp_path, monkeypatch):
    calls = []
    out = _cli_run(_smnist_recipe(tmp_path, monkeypatch, calls.append), tmp_path / "results", "--dry-run")
    assert out.exit_code == 0, out.output
    assert calls == [] and not (tmp_path / "home").exists() and not (tmp_path / "results").exists()


def test_missing_data_files_name_how_to_get_them(tmp_path):
    cifar = _with(_with(TINY, "data.name", "cifar10"), "data.options.root", str(tmp_path / "my cifar"))
    fashion = _with(_with(TINY, "data.name", "fashion_mnist"), "data.options.root", str(tmp_path / "fm"))
    expected = {
        "cifar": f"missing files in {tmp_path / 'my cifar'}; prepare them first with: sparsernn data prepare "
        f"cifar10 --root '{tmp_path / 'my cifar'}'",
        "fashion": f"{tmp_path / 'fm'}: no Fashion-MNIST IDX files; install them with 'apt-get install",
    }
    for name, recipe in (("cifar", cifar), ("fashion", fashion)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(recipe))
        out = _cli_run(path, tmp_path / "results")
        assert out.exit_code == 2 and len(out.stderr.splitlines()) == 1, out.output
        assert expected[name] in out.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "my cifar").exists()


def test_generated_and_on_demand_data_pass_the_check_and_create_nothing(tmp_path):
    from sparsernn.data.registry import check_files

    check_files("mnist1d", {})
    check_files("darji_reber", {"n_valid": 40})
    check_files("synthetic_speech", {"root": str(tmp_path / "corpus")})  # synthesized by the run
    assert not (tmp_path / "corpus").exists()


def test_a_finished_run_needs_no_data(tmp_path, monkeypatch):
    from sparsernn.studies import sweep
    from sparsernn.studies.recorder import RunResult

    recipe = _with(_with(TINY, "data.name", "cifar10"), "data.options.root", str(tmp_path / "gone"))
    configs = expand(parse_recipe_text(yaml.safe_dump(recipe)))
    monkeypatch.setattr(sweep, "execute", lambda config, **kwargs: RunResult(config, "ok", {}))
    with pytest.raises(DataError, match="missing files in"):
        sweep.run_sweep(configs, tmp_path / "results", progress=False)
    write_run(tmp_path / "results", RunResult(configs[0], "ok", {"test_accuracy": 0.5}))
    outcome = sweep.run_sweep(configs, tmp_path / "results", progress=False)  # nothing left to run
    assert (outcome.total, outcome.skipped) == (1, 1)


def test_a_study_name_used_again_for_another_protocol_is_refused_before_any_run(tmp_path, monkeypatch):
    from sparsernn.studies import sweep
    from sparsernn.studies.recorder import RunResult
    from sparsernn.studies.report import write_report

    (trained,) = expand(parse_recipe_text(yaml.safe_dump({**TINY, "seeds": [0]})))
    write_run(tmp_path, RunResult(trained, "ok", {"test_accuracy": 0.5}))
    other = {**TINY, "protocol": "darji_pruning", "data": {"name": "darji_reber", "options": {"n_valid": 40}}}
    configs = expand(parse_recipe_text(yaml.safe_dump(other)))
    monkeypatch.setattr(sweep, "execute", lambda *a, **k: pytest.fail("a run started"))
    with pytest.raises(ConfigError, match=r"study 'early' in .* already holds runs of protocol 'train'"):
        sweep.run_sweep(configs, tmp_path, progress=False)
    result = CliRunner().invoke(
        main, ["run", "-", "--results", str(tmp_path), "--dry-run"], input=yaml.safe_dump(other)
    )
    assert result.exit_code == 2 and "already holds runs of protocol 'train'" in result.output
    # a store that mixes them anyway (written by an older version) is reported without its tables
    write_run(tmp_path, RunResult(configs[0], "ok", {"base_accuracy": 0.5}))
    text = write_report(tmp_path).read_text()
    assert "## Study `early` — protocols `darji_pruning`, `train`" in text
    assert "**This study holds runs of 2 protocols (`darji_pruning`, `train`)**" in text
