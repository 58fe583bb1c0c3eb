"""The ``sparsernn`` command line. User errors print one line and exit with status 2."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sparsernn import __version__
from sparsernn.errors import SparsernnError


def _user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's own errors into ``error: <message>`` and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SparsernnError as error:
            click.echo(f"error: {str(error).splitlines()[0]}", err=True)
            sys.exit(2)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sparsernn")
def main() -> None:
    """sparsernn — sparse recurrent networks: prune, analyse as graphs, run studies."""


def _print_outcome(outcome: Any) -> None:
    click.echo(
        f"{outcome.total} runs: {outcome.skipped} already complete, {outcome.ok} finished, {outcome.failed} failed"
    )
    for line in outcome.failures:
        click.echo(f"  failed: {line}")


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--results", type=click.Path(file_okay=False, path_type=Path), default=Path("results"), show_default=True
)
@click.option("--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--address", default=None, help="Address of an existing Ray cluster (ray backend only).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Parallel runs.")
@click.option(
    "--cpus-per-run", type=click.FloatRange(min=0, min_open=True), default=None, help="Ray: CPUs per run."
)
@click.option(
    "--max-retries", type=click.IntRange(min=0), default=None, help="Ray: retries of a run whose worker died."
)
@click.option("--retry-failed", is_flag=True, help="Run again the runs that failed before.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_user_errors
def run(
    recipe: Path,
    results: Path,
    backend: str,
    address: str | None,
    workers: int,
    cpus_per_run: float | None,
    max_retries: int | None,
    retry_failed: bool,
    quiet: bool,
) -> None:
    """Run every run of RECIPE not yet complete in the results folder (re-running resumes)."""
    from sparsernn.studies import load_recipe, run_sweep

    given = {"--address": address, "--cpus-per-run": cpus_per_run, "--max-retries": max_retries}
    given = {flag: value for flag, value in given.items() if value is not None}
    if given and backend != "ray":
        raise click.UsageError(f"{next(iter(given))} needs --backend ray")
    names = {"--address": "address", "--cpus-per-run": "num_cpus_per_run", "--max-retries": "max_retries"}
    options = {names[flag]: value for flag, value in given.items()}
    _, configs = load_recipe(recipe)
    outcome = run_sweep(
        configs,
        results,
        backend=backend,
        workers=workers,
        progress=not quiet,
        retry_failed=retry_failed,
        **options,
    )
    _print_outcome(outcome)


@main.command()
@click.argument("results", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Default: RESULTS/report."
)
@click.option("--study", default=None, help="Only this study.")
@_user_errors
def report(results: Path, out: Path | None, study: str | None) -> None:
    """Write figures and summary.md for the runs in RESULTS; prints the summary's path."""
    from sparsernn.studies.report import write_report

    click.echo(write_report(results, out, study=study))


@main.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--view", type=click.Choice(["ih", "hh", "step"]), multiple=True, help="Default: all three.")
@click.option(
    "--gates", type=click.Choice(["stack", "union", "per_gate"]), default="stack", show_default=True
)
@click.option("--weighted", is_flag=True, help="Use |W ⊙ M| instead of the 0/1 mask.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
@_user_errors
def analyze(checkpoint: Path, view: tuple[str, ...], gates: str, weighted: bool, as_json: bool) -> None:
    """Expansion of every recurrent layer of a checkpoint (density, degrees, μ0, μ̂, Δ_S, Δ_R, λ_w)."""
    from sparsernn.analysis import expansion_table, layer_expansions
    from sparsernn.nn import load_model

    model = load_model(checkpoint)
    table = layer_expansions(model, view=list(view) or ["ih", "hh", "step"], gates=gates, weighted=weighted)
    click.echo(expansion_table(table, fmt="json" if as_json else "text"))


@main.group()
def data() -> None:
    """Datasets: list them, prepare local copies."""


@data.command("list")
@_user_errors
def data_list() -> None:
    """List the datasets and where their files are expected."""
    from sparsernn.data.registry import list_datasets

    for info in list_datasets():
        where = "" if info.root is None else f"  [{'ok' if info.available else 'missing'}: {info.root}]"
        click.echo(f"{info.name:18s} {info.description}{where}")


@data.command("prepare")
@click.argument("name")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None)
@_user_errors
def data_prepare(name: str, root: Path | None) -> None:
    """Prepare dataset NAME (e.g. synthesize the synthetic-speech corpus); prints where it is."""
    from sparsernn.data.registry import prepare

    click.echo(prepare(name, root))


@main.command()
@click.option(
    "--results", type=click.Path(file_okay=False, path_type=Path), default=Path("results"), show_default=True
)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@_user_errors
def demo(results: Path, workers: int) -> None:
    """Run the demo study (small, minutes on a laptop) and write its report; prints the report's path last."""
    from sparsernn.studies import run as run_recipe
    from sparsernn.studies.demo import DEMO_RECIPE
    from sparsernn.studies.report import write_report

    _print_outcome(run_recipe(DEMO_RECIPE, results=results, workers=workers))
    click.echo(write_report(results, study=DEMO_RECIPE["study"]))


if __name__ == "__main__":
    main()
