"""Bad input to the public entry points gets the library's own error, never another exception type.

Property-based (hypothesis): malformed recipes (random YAML-ish structures, mutated valid recipes,
random text and bytes), corrupted or truncated checkpoints (and pickles posing as checkpoints),
masks of the wrong shape or dtype, NaN weights and diverging losses.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import pickle
import tempfile
import time
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from sparsernn.cli import main
from sparsernn.errors import CheckpointError, ConfigError, MaskError, SparsernnError
from sparsernn.nn import (
    SequenceClassifier,
    SparseGRU,
    SparseLSTM,
    SparseRNN,
    load_checkpoint,
    save_checkpoint,
)
from sparsernn.studies.recipe import MAX_RUNS, expand, parse_recipe, parse_recipe_text, read_recipe

pytestmark = pytest.mark.timeout(120)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID = {
    "study": "bad",
    "protocol": "train",
    "seeds": [0],
    "data": {"name": "mnist1d", "options": {"n_train": 20, "n_test": 10}, "batch_size": 8},
    "model": {"cell": "gru", "hidden_size": 4},
    "train": {"epochs": 1, "lr": 0.01},
    "params": {"sparsity": 0.5, "finetune_epochs": 1},
    "sweep": {"model.cell": ["rnn_tanh", "lstm"]},
}
FIELDS = [
    *VALID,
    *(f"{k}" for k in ("name", "options", "cell", "hidden_size", "epochs", "lr", "sparsity", "weights")),
    "model.hidden_size",
    "train.lr",
    "params.sparsity",
    "data.options.n_train",
    "",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["lstm", "gru", "nan", "1e-3", "train", "mnist1d", "both", "global"])
)
keys = st.sampled_from(FIELDS) | st.text(max_size=8)
structures = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


def _paths(tree, prefix=()):
    """Every path (tuple of keys / indices) into a nested dict/list, the root included."""
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from _paths(value, (*prefix, index))


@st.composite
def mutated_recipes(draw):
    """A valid recipe with one value replaced, one key deleted, or one key added, at a random place."""
    recipe = copy.deepcopy(VALID)
    path = draw(st.sampled_from(list(_paths(recipe))[1:]))
    parent = recipe
    for part in path[:-1]:
        parent = parent[part]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(structures)
    elif action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(keys)] = draw(structures)
    return recipe


def _check_recipe(raw) -> bool:
    """Parse and expand ``raw``: success or ConfigError only. Returns whether it was rejected."""
    try:
        expand(parse_recipe(raw))
    except ConfigError as error:
        message = str(error)
        assert message and "\n" not in message.strip()  # one line, for the CLI
        return True
    return False


@FAST
@given(structures)
@example({"\n": None})  # a key with a newline once broke the one-line message
def test_random_structures_give_only_config_error(raw):
    _check_recipe(raw)


@FAST
@given(mutated_recipes())
@example({**VALID, "sweep": {"model": ["gru"]}})
@example({**VALID, "sweep": {"data.options.n_train.x": [1]}})
@example({**VALID, "data": {"options": 5}, "sweep": {"data.options.x": [1]}})
@example({**VALID, "sweep": {"model.cell": []}})
@example({**VALID, "seeds": [-1]})
@example({**VALID, "train": {"lr": float("nan")}})
@example({**VALID, "params": {"sparsity": 2.0}})
@example({**VALID, "protocol": "trian"})
def test_mutated_recipes_give_only_config_error(raw):
    _check_recipe(raw)


# --- values out of range, alias bombs, study names, sweep sizes: rejected at once, in bounded time -----

NAN, INF = float("nan"), float("inf")


def _field(section: str, name: str, values: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(st.just(section), st.just(name), values)


OUT_OF_RANGE = st.one_of(
    _field("model", "num_layers", st.integers(65, 10**30)),
    _field("model", "hidden_size", st.integers(16_385, 10**30) | st.integers(max_value=0)),
    _field("train", "epochs", st.integers(100_001, 10**30)),
    _field("params", "finetune_epochs", st.integers(100_001, 10**30)),
    _field("train", "lr", st.sampled_from([NAN, INF, -INF, 0.0, -1.0])),
    _field("data", "options", st.fixed_dictionaries({"n_train": st.integers(10**6 + 1) | st.floats()})),
    _field(
        "params",
        "robustness",
        st.fixed_dictionaries({"levels": st.lists(st.sampled_from([NAN, INF, -INF, -1.0]), min_size=1)}),
    ),
)


@FAST
@given(OUT_OF_RANGE)
@example(("data", "options", {"n_train": 1e30}))
@example(("model", "num_layers", 100_000))
@example(("params", "robustness", {"levels": [NAN, INF, -1.0]}))  # these once ran with status "ok"
def test_out_of_range_values_are_rejected_before_any_run(case):
    section, name, value = case
    protocol = "iterative_pruning" if name == "robustness" else "train"
    params = {"densities": [1.0, 0.5]} if protocol == "iterative_pruning" else {}
    raw = {**VALID, "protocol": protocol, "params": params, "sweep": {}}
    raw[section] = {**raw[section], name: value}
    assert _check_recipe(raw), f"{section}.{name}={value!r} was accepted"


@FAST
@given(st.integers(1, 12), st.integers(2, 10))
@example(8, 9)
@example(9, 9)  # > 8 GB once expanded, before aliases were refused
def test_yaml_alias_bombs_are_refused_quickly(depth, breadth):
    lines = ["study: bomb", "data:", "  options:", f"    a0: &a0 [{', '.join(['x'] * breadth)}]"]
    lines += [f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * breadth)}]" for i in range(1, depth + 1)]
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="anchors and aliases"):
        parse_recipe_text("\n".join(lines))
    assert time.perf_counter() - start < 1.0


@FAST
@given(st.text(max_size=12) | st.sampled_from([".", "..", "../x", "a/..", "/abs", "a\\b", ".hidden"]))
def test_study_names_are_plain_folder_names(name):
    raw = {**VALID, "study": name, "sweep": {}}
    if not _check_recipe(raw):
        assert name not in (".", "..") and "/" not in name and "\\" not in name and not name.startswith(".")
        assert name.isascii() and name.isprintable() and 1 <= len(name) <= 100


@FAST
@given(st.lists(st.integers(1, 400), min_size=1, max_size=5), st.integers(1, 50))
@example([2000, 1000], 1)  # 2,000,000 runs took > 30 s to expand
def test_sweeps_above_the_maximum_are_refused_before_expanding(lengths, seeds):
    keys = ["train.lr", "train.epochs", "model.hidden_size", "data.batch_size", "params.sparsity"]
    sweep = {k: list(range(1, n + 1)) for k, n in zip(keys, lengths)}  # distinct values (checked)
    if "params.sparsity" in sweep:
        sweep["params.sparsity"] = [k / 10**6 for k in sweep["params.sparsity"]]  # fractions
    raw = {**VALID, "seeds": list(range(seeds)), "sweep": sweep}
    start = time.perf_counter()
    try:
        parse_recipe(raw)  # counts the runs; expanding the valid ones is tested elsewhere
        rejected = False
    except ConfigError as error:
        rejected = True
        assert f"exceed the maximum of {MAX_RUNS}" in str(error)
    assert rejected == (math.prod(lengths) * seeds > MAX_RUNS)
    assert time.perf_counter() - start < 1.0


def _read_text(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "recipe.yaml"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        with contextlib.suppress(ConfigError):
            read_recipe(path)
        assert sorted(p.name for p in Path(folder).iterdir()) == ["recipe.yaml"]


@FAST
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
@example("study: s\nseeds: [1, 2")  # unterminated flow sequence
@example("study: 2001-02-30")  # a date that does not exist: PyYAML raises ValueError
@example("study: !!int x")
@example("study: !!float x")
@example("[" * 5000)  # nesting deeper than the parser's recursion
@example("study: !!python/object/apply:os.system ['true']")
@example("a: &x [1, 2]\nstudy: s\ndata: {options: {b: *x}}")  # aliases are refused (bombs)
@example("study: s\nseeds: [0]\n" + "#" * 2_000_000)  # larger than any recipe
@example("- 1\n- 2")
@example("")
def test_random_recipe_text_gives_only_config_error(text):
    _read_text(text)


@FAST
@given(st.binary(max_size=200))
@example(b"study: s\n\xff\xfe")
def test_random_recipe_bytes_give_only_config_error(data):
    _read_text(data)


def _yaml_text(raw) -> str:
    try:
        return yaml.safe_dump(raw)
    except yaml.YAMLError:
        return "study: [unbalanced"


def _rejected(text: str) -> bool:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError:
        return True
    return _check_recipe(raw)


@settings(max_examples=25, deadline=None)
@given(mutated_recipes() | structures)
def test_cli_rejects_bad_recipes_with_status_2_and_writes_nothing(raw):
    text = _yaml_text(raw)
    assume(_rejected(text))  # only invalid recipes: a valid one would start training
    with tempfile.TemporaryDirectory() as folder:
        recipe = Path(folder) / "bad.yaml"
        recipe.write_text(text)
        results = Path(folder) / "results"
        out = CliRunner().invoke(main, ["run", str(recipe), "--results", str(results), "--quiet"])
        assert out.exit_code == 2, out.output
        assert out.output.startswith("error: ") and out.output.count("\n") == 1
        assert not results.exists()
        assert sorted(p.name for p in Path(folder).iterdir()) == ["bad.yaml"]


# --- checkpoints ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        model = SequenceClassifier("lstm", num_classes=3, hidden_size=4, input_size=2)
        model.rnn.set_mask(
            "weight_hh_l0", torch.rand(16, 4, generator=torch.Generator().manual_seed(0)) > 0.5
        )
        path = save_checkpoint(Path(folder) / "model.safetensors", model, {"run": {"seed": 0}})
        return path.read_bytes()


def _load_all_ways(data: bytes) -> None:
    """Load ``data`` as a checkpoint: success or CheckpointError only; pickle is never touched."""
    from sparsernn.nn import load_classifier

    def forbidden(*args, **kwargs):
        raise AssertionError("a checkpoint must never be unpickled")

    class ForbiddenUnpickler(pickle.Unpickler):
        """Still a class: a module first imported meanwhile may subclass it (torch._dynamo does)."""

        __init__ = forbidden

    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(pickle, "load", forbidden)
        patch.setattr(pickle, "loads", forbidden)
        patch.setattr(pickle, "Unpickler", ForbiddenUnpickler)
        patch.setattr(torch, "load", forbidden)
        path = Path(folder) / "model.safetensors"
        path.write_bytes(data)
        for load in (load_checkpoint, load_classifier):
            try:
                load(path)
            except CheckpointError as error:
                assert str(path) in str(error)  # the message names the file


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_truncated_checkpoints_raise_checkpoint_error(checkpoint_bytes, data):
    cut = data.draw(st.integers(min_value=0, max_value=len(checkpoint_bytes) - 1))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cut.safetensors"
        path.write_bytes(checkpoint_bytes[:cut])
        with pytest.raises(CheckpointError, match=r"cut\.safetensors"):
            load_checkpoint(path)
    _load_all_ways(checkpoint_bytes[:cut])


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_corrupted_checkpoints_give_only_checkpoint_error(checkpoint_bytes, data):
    corrupted = bytearray(checkpoint_bytes)
    header_end = 8 + int.from_bytes(checkpoint_bytes[:8], "little")
    # Mostly hit the length prefix and the JSON header (where structure lives), sometimes the tensors.
    limit = data.draw(st.sampled_from([header_end, len(corrupted)]))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        position = data.draw(st.integers(min_value=0, max_value=limit - 1))
        corrupted[position] = data.draw(st.integers(min_value=0, max_value=255))
    _load_all_ways(bytes(corrupted))


class _Marker:
    """Unpickling this would create a file: the test checks it never exists."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_pickle_posing_as_checkpoint_is_rejected_without_unpickling(tmp_path):
    marker = tmp_path / "unpickled"
    buffer = io.BytesIO()
    torch.save({"weight": torch.ones(2), "evil": _Marker(str(marker))}, buffer)
    path = tmp_path / "model.safetensors"
    for data in (buffer.getvalue(), pickle.dumps(_Marker(str(marker)))):
        path.write_bytes(data)
        with pytest.raises(CheckpointError, match=r"model\.safetensors"):
            load_checkpoint(path)
    assert not marker.exists()


# --- masks ---------------------------------------------------------------------------------------

modules = st.sampled_from([SparseRNN, SparseLSTM, SparseGRU])
bad_dtypes = st.sampled_from(
    [torch.float32, torch.float64, torch.int64, torch.int32, torch.uint8, torch.int8]
)


@FAST
@given(modules, st.integers(1, 4), st.integers(1, 5), st.data())
def test_masks_of_wrong_shape_raise_mask_error(module, input_size, hidden_size, data):
    rnn = module(input_size, hidden_size)
    name = data.draw(st.sampled_from(sorted(rnn.masks)))
    expected = tuple(rnn.masks[name].shape)
    shape = data.draw(st.lists(st.integers(0, 6), min_size=0, max_size=3).map(tuple))
    assume(shape != expected)
    before = {k: v.clone() for k, v in rnn.state_dict().items()}
    with pytest.raises(MaskError, match=name):
        rnn.set_mask(name, torch.ones(shape, dtype=torch.bool))
    assert all(torch.equal(before[k], v) for k, v in rnn.state_dict().items())  # nothing changed


@FAST
@given(modules, bad_dtypes, st.data())
def test_masks_of_wrong_dtype_or_type_raise_mask_error(module, dtype, data):
    rnn = module(3, 4)
    name = data.draw(st.sampled_from(sorted(rnn.masks)))
    shape = tuple(rnn.masks[name].shape)
    bad = data.draw(
        st.sampled_from(
            [
                torch.ones(shape, dtype=dtype),
                torch.ones(shape, dtype=torch.bool).numpy(),
                torch.ones(shape, dtype=torch.bool).tolist(),
                None,
            ]
        )
    )
    with pytest.raises(MaskError, match=name):
        rnn.set_mask(name, bad)


@FAST
@given(st.text(max_size=20))
def test_unknown_mask_names_raise_mask_error(name):
    rnn = SparseGRU(2, 3)
    assume(name not in rnn.masks)
    with pytest.raises(MaskError):
        rnn.set_mask(name, torch.ones(9, 2, dtype=torch.bool))


# --- NaN weights and diverging losses: the run fails with its reason, the sweep goes on -----------


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["rnn_tanh", "rnn_relu", "lstm", "gru"]), st.data())
def test_nan_weights_make_training_fail_with_a_library_error(cell, data):
    from torch.utils.data import DataLoader

    from sparsernn.data import collate
    from sparsernn.train import TrainingDiverged, fit

    model = SequenceClassifier(cell, num_classes=2, hidden_size=3, input_size=2)
    name = data.draw(st.sampled_from([n for n, _ in model.named_parameters()]))
    parameter = dict(model.named_parameters())[name]
    index = data.draw(st.integers(0, parameter.numel() - 1))
    with torch.no_grad():
        parameter.view(-1)[index] = float("nan")  # every parameter is read by every forward pass
    items = [(torch.full((4, 2), float(i)), i % 2) for i in range(8)]
    loader = DataLoader(items, batch_size=4, collate_fn=collate)
    with pytest.raises(TrainingDiverged, match="loss became nan") as caught:
        fit(model, loader, torch.optim.SGD(model.parameters(), lr=0.1), epochs=1)
    assert isinstance(caught.value, SparsernnError)  # what the runner turns into a failed run


def test_diverging_run_is_marked_failed_and_the_sweep_goes_on(tmp_path):
    from sparsernn.results import load
    from sparsernn.studies import run

    recipe = {
        **VALID,
        "study": "nan",
        "model": {"cell": "rnn_relu", "hidden_size": 8},
        "train": {"epochs": 1, "optimizer": "sgd", "clip": None},
        "params": {"save_model": False},
        "sweep": {"train.lr": [1e30, 0.01]},
    }
    outcome = run(recipe, results=tmp_path, progress=False)
    assert (outcome.total, outcome.ok, outcome.failed) == (2, 1, 1)
    table = load(tmp_path).set_index("train.lr")
    assert table.loc[1e30, "status"] == "failed"
    assert table.loc[1e30, "reason"].startswith("TrainingDiverged: loss became")
    assert table.loc[0.01, "status"] == "ok" and 0.0 <= table.loc[0.01, "test_accuracy"] <= 1.0
    again = run(recipe, results=tmp_path, progress=False)  # a failed run stays failed, never "complete"
    assert (again.skipped, again.ok, again.failed, again.failed_before) == (1, 0, 1, 1)
    retried = run(recipe, results=tmp_path, progress=False, retry_failed=True)
    assert (retried.skipped, retried.ok, retried.failed, retried.failed_before) == (1, 0, 1, 0)
