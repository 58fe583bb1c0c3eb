"""Run configs: validation messages, identity hashes (pinned), recipe expansion."""

from __future__ import annotations

import pytest

from sparsernn.errors import ConfigError
from sparsernn.studies.config import RunConfig, TrainConfig, make_config, run_hash
from sparsernn.studies.recipe import expand, parse_recipe, read_recipe

BASE = {"study": "s", "protocol": "train"}


def test_hash_ignores_defaults_study_and_seed():
    plain = make_config(BASE)
    spelled = make_config({**BASE, "study": "other", "seed": 7, "train": {"epochs": 10, "lr": 1e-3}})
    assert run_hash(plain) == run_hash(spelled)
    assert run_hash(plain) != run_hash(make_config({**BASE, "train": {"epochs": 11}}))


def test_pinned_hashes():
    # These values are part of the store's format: changing them renames every existing run.
    assert run_hash(make_config(BASE)) == PINNED["plain"]
    assert run_hash(make_config({**BASE, "model": {"cell": "gru", "hidden_size": 32}})) == PINNED["gru32"]
    iterative = {"study": "s", "protocol": "iterative_pruning", "params": {"densities": [1.0, 0.5]}}
    assert run_hash(make_config(iterative)) == PINNED["iterative"]


PINNED = {"plain": "01e59da601a5", "gru32": "2faaf66abfd8", "iterative": "3f71e58a6498"}


def test_config_is_frozen():
    config = make_config(BASE)
    with pytest.raises(Exception, match="frozen"):
        config.train = TrainConfig(epochs=3)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {**BASE, "model": {"cell": "lstn"}},
            r"model\.cell: Input should be 'rnn_tanh', 'rnn_relu', 'lstm' or 'gru'",
        ),
        ({**BASE, "train": {"epochs": -1}}, r"train\.epochs: Input should be greater than or equal to 0"),
        ({**BASE, "train": {"lr": "fast"}}, r"train\.lr: .*got 'fast'"),
        ({**BASE, "model": {"hiden_size": 3}}, r"model\.hiden_size: unknown field"),
        ({"protocol": "train"}, r"study: Field required"),
    ],
)
def test_bad_fields_are_named(raw, message):
    with pytest.raises(ConfigError, match=message):
        make_config(raw, source="recipe r.yaml")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("params.sparsity=true", "params.sparsity"),  # would prune everything
        ("model.hidden_size=yes", "model.hidden_size"),  # YAML's yes is true
        ("train.clip=false", "train.clip"),  # clipping off is null, not false
        ("seeds=[0, true]", "seeds"),
    ],
)
def test_a_boolean_where_a_number_belongs_is_refused(override, field):
    with pytest.raises(ConfigError, match=rf"{field}: expected a number, not true or false"):
        expand(parse_recipe(BASE, overrides=[override]))


def test_booleans_still_fill_boolean_fields():
    (config,) = expand(parse_recipe({**BASE, "params": {"save_model": False}}))
    assert config.params == {"save_model": False}


def test_recipe_expansion_is_sweep_product_times_seeds():
    recipe = parse_recipe(
        {
            **BASE,
            "seeds": [0, 1],
            "model": {"hidden_size": 8},
            "sweep": {"model.cell": ["gru", "lstm"], "train.lr": [0.1, 0.01, 0.001]},
        }
    )
    configs = expand(recipe)
    assert len(configs) == 2 * 3 * 2
    assert {(c.model.cell, c.train.lr, c.seed) for c in configs} == {
        (cell, lr, seed) for cell in ("gru", "lstm") for lr in (0.1, 0.01, 0.001) for seed in (0, 1)
    }
    assert all(c.model.hidden_size == 8 for c in configs)
    assert len({run_hash(c) for c in configs}) == 6  # seeds share a hash


def test_params_are_validated_by_protocol_and_reduced_to_non_defaults():
    recipe = parse_recipe({**BASE, "params": {"sparsity": 0.5, "finetune_epochs": 0}})
    (config,) = expand(recipe)
    assert config.params == {"sparsity": 0.5}
    with pytest.raises(ConfigError, match=r"params\.sparsity: Input should be less than or equal to 1"):
        expand(parse_recipe({**BASE, "params": {"sparsity": 1.5}}))
    with pytest.raises(ConfigError, match=r"params\.sparsty: unknown field"):
        expand(parse_recipe({**BASE, "params": {"sparsty": 0.5}}))


def test_unknown_protocol_lists_choices():
    with pytest.raises(ConfigError, match=r"unknown protocol 'trian'; choose from .*train"):
        expand(parse_recipe({"study": "s", "protocol": "trian"}))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("study: [unclosed", "not valid YAML at line 1"),
        ("- a\n- b\n", "expected a mapping at the top level, got list"),
        ("study: s\nsweep: {model.cell: []}\n", r"sweep\.model\.cell: needs at least one value"),
        ("study: s\nsweep: {cell: [gru]}\n", "sweep key 'cell' must start with"),
        ("study: s\nseeds: []\n", "seeds: List should have at least 1 item"),
        ("study: 'a b'\n", "study: a study is a plain name"),
        ("study: '..'\n", "study: a study is a plain name"),
        ("study: .\n", "study: a study is a plain name"),
        ("study: a/b\n", "study: a study is a plain name"),
        ("study: ''\n", "study: a study is a plain name"),
        ("study: s\nseeds: [4294967296]\n", r"seeds\.0: Input should be less than or equal to 4294967295"),
        ("study: s\nextra: 1\n", "extra: unknown field"),
        ("!!python/object:os.system {}\n", "not valid YAML"),
    ],
)
def test_bad_recipe_files(tmp_path, text, message):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        recipe = read_recipe(path)
        expand(recipe, source=str(path))


def test_missing_recipe_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        read_recipe(tmp_path / "nope.yaml")


def test_runconfig_roundtrip_through_json():
    config = make_config({**BASE, "model": {"cell": "gru"}, "params": {"sparsity": 0.3}})
    assert RunConfig.model_validate_json(config.model_dump_json()) == config
