"""KEY=VALUE overrides edit a recipe exactly as editing its file would; built-in recipes by name; dry runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

import sparsernn.studies as studies
from sparsernn.errors import ConfigError
from sparsernn.results.records import RunKey
from sparsernn.studies import apply_overrides, builtin_recipes, find_recipe, load_recipe, parse_recipe
from sparsernn.studies.builtin import RECIPES_FOLDER
from sparsernn.studies.config import unique_runs
from sparsernn.studies.overrides import parse_override
from sparsernn.studies.plan import format_plan, plan_runs, swept_values
from sparsernn.studies.recipe import Recipe, expand

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "recipes" / "smoke.yaml"
TINY = {
    "study": "tiny",
    "data": {"name": "mnist1d", "options": {"n_train": 60, "n_test": 30}},
    "model": {"cell": "lstm", "hidden_size": 6},
    "train": {"epochs": 1},
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("train.epochs=3", 3),
        ("train.lr=0.01", 0.01),
        ("train.lr=1.0e-3", 0.001),
        ("data.options.download=true", True),
        ("data.options.download=False", False),
        ("seeds=[0, 1,2]", [0, 1, 2]),
        ("model.cell=gru", "gru"),
        ("description='3'", "3"),
        ("description=a = b", "a = b"),  # the first '=' splits
        ("train.clip=null", None),
        ("train.clip=", None),
        ("data.options={n_train: 50}", {"n_train": 50}),
    ],
)
def test_values_are_read_as_yaml(text, value):
    _, parsed = parse_override(text)
    assert parsed == value and type(parsed) is type(value)


def test_nested_keys_create_sections_and_leave_the_input_alone():
    base = {"study": "s", "params": None}
    edited = apply_overrides(base, ["data.options.n_train=100", "params.sparsity=0.5", "train.epochs=2"])
    assert edited == {
        "study": "s",
        "data": {"options": {"n_train": 100}},
        "params": {"sparsity": 0.5},
        "train": {"epochs": 2},
    }
    assert base == {"study": "s", "params": None}


def test_sweep_keys_are_one_entry_and_later_overrides_win():
    edited = apply_overrides({"study": "s"}, ["sweep.model.cell=[lstm, gru]", "sweep.model.cell=[gru]"])
    assert edited["sweep"] == {"model.cell": ["gru"]}


def test_unknown_top_level_keys_name_the_recipe_fields():
    with pytest.raises(ConfigError) as error:
        parse_recipe({"study": "s"}, overrides=["epochs=3"])
    assert str(error.value) == (
        f"recipe: override 'epochs=3': unknown top-level key 'epochs'; choose from {', '.join(Recipe.model_fields)}"
    )
    assert apply_overrides({}, ["epochs=3"]) == {"epochs": 3}  # without keys= the parse refuses it


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("epochs=3", "override 'epochs=3': unknown top-level key 'epochs'; choose from study, protocol"),
        ("train.epochs", "override 'train.epochs': expected KEY=VALUE"),
        ("=3", "override '=3': expected KEY=VALUE"),
        ("train..epochs=3", "key 'train..epochs' has an empty part"),
        ("model.hidden_size.x=3", "model.hidden_size is 8, not a section"),
        ("model.cell=gru", "model.cell is set by sweep.model.cell, so this has no effect on those runs"),
        ("seeds=[0,", "override 'seeds=[0,': not valid YAML at line 1"),
        ("model.cell=&a gru", "anchors and aliases (&name, *name) are not allowed in recipes"),
    ],
)
def test_bad_overrides_are_one_line_errors_naming_them(override, message):
    with pytest.raises(ConfigError) as error:
        load_recipe(SMOKE, overrides=[override])
    text = str(error.value)
    assert text.startswith(f"recipe {SMOKE}: ") and message in text and "\n" not in text


@pytest.mark.parametrize(
    ("override", "edit"),
    [
        ("train.epochs=abc", ("train", "epochs", "abc")),
        ("model.cell=lstn", ("model", "cell", "lstn")),
        ("model.colour=red", ("model", "colour", "red")),
        ("seeds=3", (None, "seeds", 3)),
        ("params.sparsity=2", ("params", "sparsity", 2)),
    ],
)
def test_invalid_values_give_the_errors_of_the_edited_file(tmp_path, override, edit):
    raw = {**TINY}
    section, key, value = edit
    if section is None:
        raw[key] = value
    else:
        raw[section] = {**raw.get(section, {}), key: value}
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as from_file:
        load_recipe(path)
    with pytest.raises(ConfigError) as from_override:
        load_recipe_from_mapping(TINY, [override], source=f"recipe {path}")
    assert str(from_override.value) == str(from_file.value)


def load_recipe_from_mapping(raw, overrides, source):
    return expand(parse_recipe(raw, source=source, overrides=overrides), source=source)


def keys(configs) -> list[RunKey]:
    return [config.key for config in configs]


def test_overrides_give_the_hashes_of_the_edited_file(tmp_path):
    overrides = [
        "model.hidden_size=16",
        "train.epochs=3",
        "seeds=[0, 1, 2]",
        "sweep.model.cell=[lstm, gru]",
        "params.sparsity=0.75",
        "data.options.n_train=200",
    ]
    raw = yaml.safe_load(SMOKE.read_text())
    raw["model"]["hidden_size"] = 16
    raw["train"]["epochs"] = 3
    raw["seeds"] = [0, 1, 2]
    raw["sweep"]["model.cell"] = ["lstm", "gru"]
    raw["params"]["sparsity"] = 0.75
    raw["data"]["options"]["n_train"] = 200
    edited = tmp_path / "smoke.yaml"
    edited.write_text(yaml.safe_dump(raw))

    by_override = keys(load_recipe("smoke", overrides=overrides)[1])
    assert by_override == keys(load_recipe(edited)[1])
    assert len(by_override) == 6 and len({key.hash for key in by_override}) == 2
    assert not set(by_override) & set(keys(load_recipe("smoke")[1]))  # every run is a new one


def test_an_override_to_the_default_value_keeps_the_hashes():
    plain = keys(load_recipe(SMOKE)[1])
    assert keys(load_recipe(SMOKE, overrides=["train.clip=5.0", "model.num_layers=1"])[1]) == plain
    assert keys(load_recipe(SMOKE, overrides=["train.clip=4.0"])[1]) != plain


def test_python_run_takes_overrides(monkeypatch):
    seen = []
    monkeypatch.setattr(studies, "run_sweep", lambda configs, results, **options: seen.append(configs))
    studies.run(TINY, overrides=["train.epochs=2", "seeds=[3]"], progress=False)
    studies.run("smoke", overrides=["sweep.model.cell=[gru]"], progress=False)
    (tiny,), (smoke,) = seen
    assert (tiny.train.epochs, tiny.seed, smoke.model.cell) == (2, 3, "gru")


def test_one_override_string_is_one_override_not_its_characters(monkeypatch):
    seen = []
    monkeypatch.setattr(studies, "run_sweep", lambda configs, results, **options: seen.append(configs))
    studies.run("smoke", overrides="train.epochs=3", progress=False)
    studies.run(TINY, overrides="train.epochs=2", progress=False)
    assert {c.train.epochs for c in seen[0]} == {3} and seen[1][0].train.epochs == 2
    assert apply_overrides(TINY, "train.epochs=4")["train"] == {"epochs": 4}
    for bad in ([3], 3, {"train.epochs": 3}):
        with pytest.raises(
            ConfigError, match=r"^overrides must be KEY=VALUE strings, e.g. \['train.epochs=3'\]"
        ):
            load_recipe("smoke", overrides=bad)


def test_expand_refuses_what_is_not_a_recipe_in_one_line():
    loaded = load_recipe("smoke")
    with pytest.raises(ConfigError) as error:
        expand(loaded)  # load_recipe has expanded it already
    assert str(error.value) == (
        "expand takes a Recipe (from read_recipe or parse_recipe), got tuple; "
        "load_recipe already returns (recipe, configs)"
    )
    with pytest.raises(ConfigError, match="got dict"):
        expand(TINY)
    assert expand(loaded[0]) == loaded[1]


def test_built_in_recipes_are_the_repository_recipes():
    assert Path(ROOT / "recipes").resolve() == RECIPES_FOLDER  # one copy: recipes/ links to the package
    names = builtin_recipes()
    assert "smoke" in names and list(names) == sorted(names)
    assert {path.name for path in names.values()} == {path.name for path in (ROOT / "recipes").glob("*.yaml")}


def test_recipes_are_found_by_name_or_path(tmp_path, monkeypatch):
    assert find_recipe("smoke") == RECIPES_FOLDER / "smoke.yaml"
    assert keys(load_recipe("smoke")[1]) == keys(load_recipe(SMOKE)[1])
    monkeypatch.chdir(tmp_path)
    Path("mine").write_text("study: mine\n")
    assert find_recipe("mine") == Path("mine")  # an existing file that is not a built-in name
    assert find_recipe(Path("smoke")) == Path("smoke")  # a Path is always a path
    with pytest.raises(ConfigError) as missing:
        load_recipe("recipes/smoke.yaml")  # as in a checkout, but there is none here
    assert str(missing.value) == (
        "recipe recipes/smoke.yaml: no such file; the built-in recipe of that name runs with: sparsernn run smoke"
    )
    with pytest.raises(ConfigError, match=r"^recipe mine.yml: no such file$"):
        load_recipe("mine.yml")  # no built-in recipe of that name: no hint
    with pytest.raises(ConfigError) as error:
        load_recipe("smokes")
    assert str(error.value).startswith("unknown recipe 'smokes'; choose a built-in recipe (darji-pruning, ")
    assert "smoke)" in str(error.value)


def test_swept_values_follow_the_expansion_order():
    recipe, configs = load_recipe(SMOKE, overrides=["seeds=[0, 1]", "sweep.train.epochs=[1, 2]"])
    values = swept_values(recipe)
    assert len(values) == len(configs) == 16
    for point, config in zip(values, configs):
        assert (point["model.cell"], point["train.epochs"]) == (config.model.cell, config.train.epochs)


def test_an_override_a_data_or_cases_entry_shadows_is_refused_and_any_other_is_taken():
    sweep = {
        "data": [{"name": "mnist1d", "batch_size": 8}, {"name": "mnist1d", "options": {"n_train": 40}}],
        "cases.cell": [{"model.cell": "gru", "train.lr": 0.01}, {"model.cell": "lstm"}],
    }
    recipe = {**TINY, "sweep": sweep}
    for override, swept in [
        ("data.batch_size=4", "data.batch_size is set by sweep.data"),
        ("data.options.n_train=5", "data.options is set by sweep.data"),
        ("data={name: mnist1d, batch_size: 4}", "data.name is set by sweep.data"),  # a whole section
        ("train.lr=0.5", "train.lr is set by sweep.cases.cell"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(swept)):
            parse_recipe(recipe, overrides=[override])
    configs = expand(parse_recipe(recipe, overrides=["data.eval_batch_size=64", "train.epochs=2"]))
    assert {(c.data.eval_batch_size, c.train.epochs) for c in configs} == {(64, 2)}  # taken by every run


def test_the_plan_counts_sweep_points_that_make_the_same_run_once_as_the_sweep_does():
    sweep = {"data": [{"name": "mnist1d"}, {"name": "mnist1d", "batch_size": 32}]}  # 32 is the default
    recipe = parse_recipe({**TINY, "sweep": sweep})
    configs = expand(recipe)
    assert len(configs) == 2 and len(unique_runs(configs)) == 1
    assert len(plan_runs(recipe, configs)) == 1


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seeds=[0, 1, 0]", "seeds: 0 is given twice; expected distinct seeds"),
        (
            "sweep={model.cell: [gru, lstm, gru]}",
            "sweep.model.cell: 'gru' is given twice; expected distinct values",
        ),
    ],
)
def test_a_seed_or_sweep_value_given_twice_is_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        parse_recipe(TINY, overrides=[override])


def test_plan_reads_the_state_of_each_run_and_creates_nothing(tmp_path):
    recipe, configs = load_recipe(SMOKE)
    results = tmp_path / "results"
    assert {run.state for run in plan_runs(recipe, configs, results)} == {"pending"}
    assert not results.exists()
    for config, status in zip(configs, ["ok", "failed"]):
        folder = config.key.folder(results)
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps({"status": status}))
    (configs[2].key.folder(results)).mkdir(parents=True)  # an interrupted run: no summary
    runs = plan_runs(recipe, configs, results)
    assert [run.state for run in runs] == ["complete", "failed", "pending", "pending"]
    assert [run.hash for run in runs] == [config.key.hash for config in configs]
    text = format_plan(runs, results)
    assert (
        text.splitlines()[0]
        == f"dry run: 4 runs (1 complete, 1 failed, 2 pending) in {results}; nothing was run"
    )
    assert text.splitlines()[1].split() == ["study", "hash", "seed", "model.cell", "state"]
    assert text.splitlines()[3].split() == ["smoke", configs[1].key.hash, "0", "rnn_relu", "failed"]
