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


class _OneLineUsageError(click.UsageError):
    """A click usage error (unknown option, bad value, missing argument) shown as one line."""

    def __init__(self, error: click.UsageError) -> None:
        super().__init__(error.message, error.ctx)
        self._error = error

    def format_message(self) -> str:
        return self._error.format_message()

    def show(self, file: Any = None) -> None:
        hint = f" (see '{self.ctx.command_path} --help')" if self.ctx is not None else ""
        click.echo(f"error: {self.format_message()}{hint}", file=file, err=True)


# A group called without a command shows its help (click >= 8.2 raises this usage error for it).
_HELP_ERRORS = (_OneLineUsageError, getattr(click.exceptions, "NoArgsIsHelpError", _OneLineUsageError))


class _Group(click.Group):
    """The top-level group: click's usage errors of any command print one line, as the library's own do."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except _HELP_ERRORS:
            raise
        except click.UsageError as error:
            raise _OneLineUsageError(error) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _HELP_ERRORS:
            raise
        except click.UsageError as error:
            raise _OneLineUsageError(error) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sparsernn")
def main() -> None:
    """sparsernn — sparse recurrent networks: prune, analyse as graphs, run studies."""


def _print_outcome(outcome: Any) -> None:
    line = f"{outcome.total} runs: {outcome.skipped} already complete, {outcome.ok} finished, {outcome.failed} failed"
    if outcome.failed_before:
        line += f" ({outcome.failed_before} failed before; rerun with --retry-failed)"
    click.echo(line)
    for failure in outcome.failures:
        click.echo(f"  failed: {failure}")
    for failure in outcome.log_failures:  # the runs are stored; only their tracker copy is missing
        click.echo(f"warning: {failure}", err=True)


def _print_data_folders(configs: list[Any]) -> None:
    """Say where file-based data is read from (and downloaded to): absolute paths, once per folder."""
    from sparsernn.data.registry import data_folder

    seen = set()
    for config in configs:
        folder = data_folder(config.data.name, config.data.options)
        download = bool(config.data.options.get("download"))
        if folder is not None and (config.data.name, folder, download) not in seen:
            seen.add((config.data.name, folder, download))
            click.echo(
                f"data: {config.data.name} in {folder}" + (" (downloaded there if missing)" * download)
            )


def _load(recipe: str, overrides: tuple[str, ...] = ()) -> tuple[Any, list[Any]]:
    """The recipe and runs of RECIPE (a built-in name, a file, a pipe such as <(...), or ``-`` for
    standard input), after the KEY=VALUE overrides."""
    from sparsernn.studies import load_recipe
    from sparsernn.studies.recipe import load_recipe_text

    if recipe == "-":
        data = getattr(sys.stdin, "buffer", sys.stdin).read()  # bytes: decoding errors are the recipe's
        return load_recipe_text(data, source="recipe <stdin>", overrides=overrides)
    return load_recipe(recipe, overrides=overrides)


@main.command()
@click.argument("recipe")
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
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
@click.option(
    "--log",
    "log",
    multiple=True,
    metavar="csv|tensorboard|mlflow",
    help="Also send every run's metrics to this tracker, under RESULTS/_trackers/ (repeat for several).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the runs (hash, seed, swept values, state in --results); run nothing.",
)
@_user_errors
def run(
    recipe: str,
    overrides: tuple[str, ...],
    results: Path,
    backend: str,
    address: str | None,
    workers: int,
    cpus_per_run: float | None,
    max_retries: int | None,
    retry_failed: bool,
    quiet: bool,
    dry_run: bool,
    log: tuple[str, ...],
) -> None:
    """Run every run of RECIPE not yet complete in the results folder (re-running resumes).

    RECIPE is the name of a built-in recipe (`sparsernn recipes` lists them), a YAML file, a pipe
    (e.g. <(...)) or - for standard input. Everything it names is checked before the first run
    starts, its data files and trackers too (data a recipe asks to download is fetched once before the
    first run; other data comes from `sparsernn data prepare NAME`); --dry-run stops there and prints
    the runs. Runs that failed are kept as failed (with
    their reason) and not run again unless --retry-failed; the exit status is 1 when any run of the
    recipe failed.

    KEY=VALUE overrides edit the recipe as editing its file would (same runs, hashes and errors):
    KEY is a dotted path into the recipe, VALUE is YAML (quote lists for the shell), e.g.

    \b
        sparsernn run smoke model.hidden_size=16 train.epochs=3 'seeds=[0,1,2]'
        sparsernn run smoke 'sweep.model.cell=[lstm,gru]' --dry-run
    """
    from sparsernn.studies import run_sweep

    given = {"--address": address, "--cpus-per-run": cpus_per_run, "--max-retries": max_retries}
    given = {flag: value for flag, value in given.items() if value is not None}
    if given and backend != "ray":
        raise click.UsageError(f"{next(iter(given))} needs --backend ray")
    names = {"--address": "address", "--cpus-per-run": "num_cpus_per_run", "--max-retries": "max_retries"}
    options = {names[flag]: value for flag, value in given.items()}
    parsed, configs = _load(recipe, overrides)
    if dry_run:
        from sparsernn.studies.plan import format_plan, plan_runs
        from sparsernn.studies.sweep import check_before_running

        check_before_running(
            configs, results, backend=backend, loggers=log, retry_failed=retry_failed, address=address
        )
        click.echo(format_plan(plan_runs(parsed, configs, results), results))
        return
    _print_data_folders(configs)
    outcome = run_sweep(
        configs,
        results,
        backend=backend,
        workers=workers,
        progress=not quiet,
        retry_failed=retry_failed,
        loggers=log,
        **options,
    )
    _print_outcome(outcome)
    _exit_if_failed(outcome)


def _exit_if_failed(outcome: Any) -> None:
    """Exit with status 1, saying how to retry, when any run of the sweep is failed."""
    if outcome.failed:
        click.echo(
            f"error: {outcome.failed} of {outcome.total} runs failed (reasons above); "
            "fix the cause, then rerun them with --retry-failed",
            err=True,
        )
        sys.exit(1)


@main.command()
@_user_errors
def recipes() -> None:
    """List the built-in recipes (run one by name: `sparsernn run NAME`) with their descriptions."""
    from sparsernn.studies import builtin_recipes, read_recipe
    from sparsernn.studies.builtin import RECIPES_FOLDER

    found = builtin_recipes()
    width = max(map(len, found))
    for name, path in found.items():
        click.echo(f"{name:{width}s}  {read_recipe(path).description}".rstrip())
    click.echo(f"(the files are in {RECIPES_FOLDER})")


@main.command()
@click.argument("results", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Default: RESULTS/report; with --publish, the report is written here only when --out is given.",
)
@click.option("--study", default=None, help="Only this study.")
@click.option(
    "--publish",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Publish the report: summary.md, small PNGs and a compact runs.csv into this folder (e.g. docs/results/STUDY), "
    "replacing an older publication and refusing a folder that holds anything else (a report's sub-pages go to sibling folders); refused when the published "
    "pages beside it would exceed 5 MB.",
)
@_user_errors
def report(results: Path, out: Path | None, study: str | None, publish: Path | None) -> None:
    """Write figures and summary.md for the runs in RESULTS; prints the summary's path (or the publication's)."""
    from sparsernn.studies.report import write_report

    if publish is not None:
        from sparsernn.studies.publish import publish_report

        if out is not None:
            write_report(results, out, study=study)
        click.echo(publish_report(results, publish, study=study))
        return
    click.echo(write_report(results, out, study=study))


@main.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--view", type=click.Choice(["ih", "hh", "step"]), multiple=True, help="Default: all three.")
@click.option(
    "--gates", type=click.Choice(["stack", "union", "per_gate"]), default="stack", show_default=True
)
@click.option("--weighted", is_flag=True, help="Use |W ⊙ M| instead of the 0/1 mask.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
@click.option(
    "--cell",
    type=click.Choice(["rnn_tanh", "rnn_relu", "lstm", "gru"]),
    default=None,
    help="Cell kind of a checkpoint without a model description. Default: inferred from the weight shapes.",
)
@_user_errors
def analyze(
    checkpoint: Path, view: tuple[str, ...], gates: str, weighted: bool, as_json: bool, cell: str | None
) -> None:
    """Expansion of every recurrent layer of a checkpoint (density, degrees, μ0, μ̂, Δ_S, Δ_R, λ_w).

    Any safetensors checkpoint holding recurrent weights (weight_ih_l0, weight_hh_l0, ... under any
    prefix, masks as <name>_mask tensors) can be analysed; for one not written by the library, what was
    inferred from the shapes is printed to standard error as `note:` lines.
    """
    from sparsernn.analysis import expansion_table, layer_expansions
    from sparsernn.nn.checkpoint import load_recurrent

    model, notes = load_recurrent(checkpoint, cell=cell)
    for note in notes:
        click.echo(f"note: {note}", err=True)
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
@click.option("--retry-failed", is_flag=True, help="Run again the runs that failed before.")
@_user_errors
def demo(results: Path, workers: int, retry_failed: bool) -> None:
    """Run the demo study (small, minutes on a laptop) and write its report; prints the report's path last."""
    from sparsernn.studies import run as run_recipe
    from sparsernn.studies.demo import DEMO_RECIPE
    from sparsernn.studies.report import write_report

    outcome = run_recipe(DEMO_RECIPE, results=results, workers=workers, retry_failed=retry_failed)
    _print_outcome(outcome)
    click.echo(write_report(results, study=DEMO_RECIPE["study"]))  # the report shows failed runs too
    _exit_if_failed(outcome)


if __name__ == "__main__":
    main()
