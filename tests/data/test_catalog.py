"""One Dataset record per dataset: the registry's tables and lists all come from the records."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import sparsernn.data as data
from sparsernn.data.catalog import CATALOG, Dataset
from sparsernn.data.registry import (
    DATASETS,
    TOKEN_DATASETS,
    accepts_option,
    check_options,
    data_folder,
    list_datasets,
    prepare,
)
from sparsernn.errors import ConfigError


def test_one_record_per_registered_name():
    assert set(CATALOG) == set(DATASETS) and data.CATALOG is CATALOG and data.Dataset is Dataset
    for name, record in CATALOG.items():
        assert isinstance(record, Dataset) and record.name == name and DATASETS[name] is record.builder
        assert record.description and record.items
        assert record.prepare is not None or not record.prepare_makes
    with pytest.raises(TypeError):
        CATALOG["mine"] = CATALOG["mnist1d"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        CATALOG["mnist1d"].tokens = True  # type: ignore[misc]


def test_listing_folders_and_tokens_read_the_records(monkeypatch, tmp_path):
    monkeypatch.setenv("SPARSERNN_DATA", str(tmp_path))
    infos = {info.name: info for info in list_datasets()}
    for name, record in CATALOG.items():
        root, available = record.where()
        assert (infos[name].root, infos[name].available) == (root, available)
        assert infos[name].preparable == record.prepare_makes
        assert (data_folder(name, {}) is None) == (record.folder is None)
    assert TOKEN_DATASETS == {n for n, r in CATALOG.items() if r.tokens} == {"darji_reber"}
    assert data_folder("sequential-mnist", {"root": str(tmp_path / "m")}) == tmp_path / "m"


def test_options_come_from_the_builder_or_what_it_passes_them_to():
    for name, record in CATALOG.items():
        function = record.builder if record.options_of is None else record.options_of()
        keywords = [p for p in inspect.signature(function).parameters if p not in ("seed", "self")]
        kinds = inspect.signature(function).parameters
        named = [k for k in keywords if kinds[k].kind is not inspect.Parameter.VAR_KEYWORD]
        assert all(accepts_option(name, k) for k in named if kinds[k].default is not inspect.Parameter.empty)
        assert all(accepts_option(name, k) for k in record.extra_options)
    assert accepts_option("synthetic_speech", "snr_db") and not accepts_option("mnist1d", "snr_db")
    with pytest.raises(ConfigError, match="unknown option 'voice' for the synthetic speech corpus"):
        check_options("synthetic_speech", {"corpus": {"voice": "x"}})
    with pytest.raises(
        ConfigError, match="option corpus of dataset 'synthetic_speech': takes must be an integer"
    ):
        check_options("synthetic_speech", {"corpus": {"takes": 0}})  # its values too, not only its names
    check_options("synthetic_speech", {"corpus": {"takes": 2}})


def test_generated_datasets_have_nothing_to_prepare():
    generated = sorted(n for n, r in CATALOG.items() if r.prepare is None)
    assert generated == ["darji_reber", "mnist1d"]
    with pytest.raises(ConfigError, match="nothing to prepare \\(preparable: cifar10, fashion_mnist"):
        prepare("darji-reber")
