"""The command line: help everywhere, one-line errors with exit status 2, run → report → analyze."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sparsernn import __version__
from sparsernn.cli import main
from sparsernn.studies import builtin_recipes, load_recipe

COMMANDS = [
    *([], ["run"], ["recipes"], ["report"], ["analyze"]),
    *(["data"], ["data", "list"], ["data", "prepare"], ["demo"]),
]


@pytest.fixture
def cli():
    return CliRunner()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "main")
def test_help_everywhere(cli, command):
    result = cli.invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_version(cli):
    result = cli.invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "missing.yaml"], "error: recipe missing.yaml: no such file"),
        (["report", "nowhere"], "error: results folder nowhere does not exist"),
        (["analyze", "missing.safetensors"], "error: "),
        (["data", "prepare", "imagenet"], "error: unknown dataset 'imagenet'"),
        (["run", "smokes"], "error: unknown recipe 'smokes'; choose a built-in recipe (darji-pruning, "),
        (["run", "smoke", "epochs=3"], "error: recipe smoke: override 'epochs=3': unknown top-level key"),
        (["run", "smoke", "train.epochs=x"], "error: recipe smoke: train.epochs: Input should be a valid"),
        # click's own usage errors, one line too, naming the command's help
        (["run", "smoke", "--bogus"], "error: No such option '--bogus'"),
        (["run", "smoke", "--workers", "x"], "error: Invalid value for '--workers': 'x'"),
        (["run"], "error: Missing argument 'RECIPE'. (see 'main run --help')"),
        (["bogus"], "error: No such command 'bogus'. (see 'main --help')"),
        (["data", "prepare"], "error: Missing argument 'NAME'. (see 'main data prepare --help')"),
        (["analyze", "x.safetensors", "--view", "q"], "error: Invalid value for '--view': 'q' is not one of"),
    ],
)
def test_user_errors_are_one_line_exit_2(cli, args, message):
    result = cli.invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message)


@pytest.mark.parametrize("command", [[], ["data"]], ids=["main", "data"])
def test_a_group_without_its_command_shows_its_help(cli, command):
    result = cli.invoke(main, command)
    assert "Usage:" in result.output and "Commands:" in result.output and "error" not in result.output


@pytest.mark.parametrize(
    "flag", [["--address", "127.0.0.1:1"], ["--cpus-per-run", "2"], ["--max-retries", "1"]]
)
def test_ray_options_need_the_ray_backend(cli, flag):
    result = cli.invoke(main, ["run", str(Path(__file__).parents[1] / "recipes" / "smoke.yaml"), *flag])
    assert result.exit_code == 2 and f"{flag[0]} needs --backend ray" in result.output


def test_bad_recipe_value(cli, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("study: s\nmodel: {cell: lstn}\n")
    result = cli.invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    assert "model.cell: Input should be 'rnn_tanh', 'rnn_relu', 'lstm' or 'gru'" in result.output


def test_run_report_analyze(cli, tmp_path):
    recipe = {
        "study": "cli",
        "data": {"name": "mnist1d", "options": {"n_train": 60, "n_test": 30}},
        "model": {"cell": "lstm", "hidden_size": 6},
        "train": {"epochs": 1},
        "params": {"sparsity": 0.5},
    }
    path = tmp_path / "cli.yaml"
    path.write_text(yaml.safe_dump(recipe))
    results = tmp_path / "results"
    first = cli.invoke(main, ["run", str(path), "--results", str(results), "--quiet"])
    assert first.exit_code == 0, first.output
    assert "1 runs: 0 already complete, 1 finished, 0 failed" in first.output
    again = cli.invoke(main, ["run", str(path), "--results", str(results), "--quiet"])
    assert "1 already complete, 0 finished" in again.output

    report = cli.invoke(main, ["report", str(results)])
    assert report.exit_code == 0
    summary = report.output.strip().splitlines()[-1]
    assert summary.endswith("summary.md") and "cli" in Path(summary).read_text()

    (checkpoint,) = results.glob("cli/*/seed_0/model.safetensors")
    table = cli.invoke(main, ["analyze", str(checkpoint), "--view", "hh"])
    assert table.exit_code == 0 and "Δ_S" in table.output
    rows = json.loads(cli.invoke(main, ["analyze", str(checkpoint), "--json"]).output)
    assert {row["view"] for row in rows} == {"ih", "hh", "step"}
    hh = next(r for r in rows if r["view"] == "hh")
    assert hh["density"] == pytest.approx(0.5, abs=0.02)


def test_dry_run_prints_the_runs_and_creates_nothing(cli, tmp_path):
    results = tmp_path / "results"
    overrides = ["seeds=[0,1]", "sweep.model.cell=[lstm,gru]"]
    args = ["run", "smoke", "--dry-run", "--results", str(results), *overrides]
    result = cli.invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == f"dry run: 4 runs (0 complete, 0 failed, 4 pending) in {results}; nothing was run"
    assert lines[1].split() == ["study", "hash", "seed", "model.cell", "state"]
    configs = load_recipe("smoke", overrides=overrides)[1]
    rows = [(c.study, c.key.hash, str(c.seed), c.model.cell, "pending") for c in configs]
    assert [tuple(line.split()) for line in lines[2:]] == rows
    assert not results.exists()


def test_dry_run_checks_the_loggers_as_a_run_does(cli, tmp_path):
    for extra in ([], ["--dry-run"]):
        result = cli.invoke(
            main, ["run", "smoke", "--log", "wandb", "--results", str(tmp_path / "r"), *extra]
        )
        assert result.exit_code == 2, result.output
        assert result.output == "error: unknown logger 'wandb'; choose from csv, mlflow, tensorboard\n"
    assert not (tmp_path / "r").exists()


def test_report_of_an_unknown_study_lists_the_studies(cli, tmp_path):
    from sparsernn.results import write_run
    from sparsernn.studies.config import make_config
    from sparsernn.studies.recorder import RunResult

    for study in ("smoke", "demo"):
        write_run(tmp_path, RunResult(make_config({"study": study, "seed": 0}), "ok", {"test_accuracy": 0.5}))
    result = cli.invoke(main, ["report", str(tmp_path), "--study", "smok"])
    assert result.exit_code == 2
    assert result.output == f"error: no study 'smok' in {tmp_path}; studies: demo, smoke\n"
    study_folder = cli.invoke(main, ["report", str(tmp_path / "smoke")])
    assert study_folder.exit_code == 2
    assert study_folder.output.startswith(
        f"error: {tmp_path / 'smoke'} is a study folder inside the results folder {tmp_path}; "
    )


def test_recipes_lists_the_built_in_recipes(cli):
    result = cli.invoke(main, ["recipes"])
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.strip().splitlines()[:-1]]
    assert names == list(builtin_recipes()) and "smoke" in names
