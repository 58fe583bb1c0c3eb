"""Report of the ``darji_structure`` protocol: accuracy per family and cell, correlations, regressions.

Every run holds several graphs; the report first gathers one row per trained model (cell, family,
final accuracy, features), then per cell: the Pearson table, both regression protocols side by side,
feature importances and feature subsets, and the claims of the original study checked against ours.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sparsernn.graphs import PROPERTY_NAMES
from sparsernn.plots.structure import (
    plot_accuracy_by_family,
    plot_correlation_heatmap,
    plot_importances,
    plot_predicted_vs_measured,
    plot_r2_bars,
)
from sparsernn.results import flatten
from sparsernn.studies.headline import headline
from sparsernn.studies.protocols.graph_families import SPECTRAL_NAMES
from sparsernn.studies.protocols.structure import StructureParams
from sparsernn.studies.reports.companions import with_companion
from sparsernn.studies.reports.coverage import coverage_section, missing_pairs
from sparsernn.studies.reports.paired import THESIS_R2, paired_section, reference_table, seed_zero
from sparsernn.studies.reports.regression import (
    importances,
    original_protocol,
    pearson_table,
    sound_protocol,
    subset_study,
)
from sparsernn.studies.reports.seeds import (
    auc_table,
    ceiling_lines,
    chance_table,
    seed_mean_table,
    seed_table,
)
from sparsernn.studies.tables import markdown_table, seed_stats, varying_columns

MIN_ROWS = 20  # fewer models per cell: no regression
DEFAULTS = flatten({"params": StructureParams().model_dump(mode="json")})  # for runs that left them out
ORIGINAL_CORRELATES = ("source_nodes", "closeness_var", "nodes_betweenness_var")
SEED_NOTE = (
    "The same graphs trained with several seeds; accuracy = final-epoch test accuracy, as in the thesis "
    "(no validation split, nothing is selected on it). ICC(1) = between-graph variance / total variance "
    "(one-way random effects). A predictor that sees only the graph predicts every seed alike, so the "
    "seed-to-seed variance is out of its reach: its R² for a single run is at most ICC(1) (for the "
    "mean of the seeds, the last column). `ICC ci95_*`: 95 % bootstrap interval over graphs. Each "
    "cell's best R² the thesis published (original protocol; GRU: 0.88, random forest) is set against it."
)
SEED_MEAN_NOTE = (
    "The same graphs and features, the sound protocol (pooled out-of-fold R², one 5-fold pass, seed 0), "
    "two targets: one run's accuracy and the mean over the seeds, each next to its ceiling. If averaging "
    "seeds lifts R² toward the higher ceiling of the mean, seed noise limited the single-run prediction; "
    "an R² far under its ceiling means the graph matters in ways the features do not describe."
)
CHANCE_NOTE = (
    "Graphs trained with every seed, by the number of seeds in which the network stayed at chance. "
    "If staying at chance were a seed accident, independent of the graph, about `expected in all` "
    "graphs would fail in every seed (the cell's rate p, g·p^k); many more mean the graph decides."
)
AUC_NOTE = (
    "Accuracies are bimodal: a network learns or stays at chance (< 0.55). Logistic regression and "
    "random forest on the graph features, scaling inside the folds, 5-fold stratified CV repeated 5 "
    "times (seed 0), lowest seed of each graph; mean ± std over folds (0.5 = no better than guessing)."
)


def graph_table(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per trained model: run, graph, cell, family, gate masks, accuracy, loss, features.

    ``runs`` are loaded runs with their parameters (``params.family``, ``params.gate_masks``): runs
    record every parameter, and :func:`~sparsernn.studies.registry.with_default_params` fills them
    in for runs written before they did.
    """
    if metrics.empty or "graph" not in metrics.columns:
        return pd.DataFrame()
    info = pd.DataFrame(
        {"run": runs["run"], "cell": runs.get("model.cell", pd.Series("lstm", index=runs.index))}
        | {name: runs[f"params.{name}"] for name in ("family", "gate_masks") if f"params.{name}" in runs}
    )

    def wide(phase: str) -> pd.DataFrame:
        rows = metrics[metrics["phase"] == phase]
        return rows.pivot_table(index=["run", "graph"], columns="name", values="value", aggfunc="first")

    finals = wide("final")
    if finals.empty:
        return pd.DataFrame()
    table = finals[["accuracy", "loss"]].join(wide("features"), how="left").reset_index()
    return table.merge(info, on="run", how="left")


def _features(table: pd.DataFrame) -> list[str]:
    """Usable predictors: the 23 properties and the spectral features present, finite and not constant."""
    names = [c for c in (*PROPERTY_NAMES, *SPECTRAL_NAMES) if c in table.columns]
    return [c for c in names if np.isfinite(table[c]).all() and table[c].nunique() > 1]


def _accuracy_section(table: pd.DataFrame, out: Path, study: str) -> list[str]:
    summary = seed_stats(table, ["cell", "family"], "accuracy")  # n: trained models
    summary = summary[["cell", "family", "n", "mean", "std", "ci95_low", "ci95_high"]]
    path = plot_accuracy_by_family(table, out / f"structure_accuracy_{study}.png")
    lines = [
        "### Final test accuracy per cell and graph family",
        "",
        f"![accuracy per family]({path.name})",
        "",
    ]
    return lines + markdown_table(summary) + [""]


def _correlation_section(table: pd.DataFrame, cells: list[str], features: list[str], out: Path, study: str):
    if not features:  # a partial store of one or two models: nothing varies yet
        return {}, ["(Correlations need models whose graph features vary: not yet.)", ""]
    pearson = {cell: pearson_table(table[table["cell"] == cell], features) for cell in cells}
    heat = pd.DataFrame({cell: t.set_index("feature")["r"] for cell, t in pearson.items()}).reindex(features)
    path = plot_correlation_heatmap(heat, out / f"structure_correlation_{study}.png")
    lines = ["### Pearson correlation of each feature with accuracy", "", f"![correlations]({path.name})", ""]
    shown = heat.assign(**{f"p {c}": pearson[c].set_index("feature")["p"] for c in cells}).reset_index(
        names="feature"
    )
    return pearson, [*lines, *markdown_table(shown), ""]


def _regressions(table: pd.DataFrame, cells: list[str], features: list[str]) -> dict:
    results = {}
    for cell in cells:
        mine = table[table["cell"] == cell]
        if len(mine) < MIN_ROWS:
            continue
        x, y = mine[features].to_numpy(), mine["accuracy"].to_numpy()
        subsets = {
            "23 properties": [f for f in features if f in PROPERTY_NAMES],
            "spectral": [f for f in features if f in SPECTRAL_NAMES],
            "all": features,
            "best 5 (chosen in fold)": min(5, len(features)),
            "size: nodes, edges, layers": [f for f in ("nodes", "edges", "layers") if f in features],
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter of BayesianRidge on tiny targets
            results[cell] = {
                "original": original_protocol(x, y),
                "sound": sound_protocol(x, y),
                "importance": importances(x, y, features),
                "subsets": subset_study(
                    mine[[*features, "accuracy"]],
                    {name: subset for name, subset in subsets.items() if subset},  # none empty
                ),
            }
    return results


def _regression_section(results: dict, out: Path, study: str) -> list[str]:
    rows = []
    for cell, r in results.items():
        for protocol in ("original", "sound"):
            rows += [
                {"protocol": protocol, "cell": cell, "regressor": f.regressor, "r2": f.r2, "r2_std": f.r2_std}
                | {"r2_pooled": f.r2_pooled}
                for f in r[protocol].values()
            ]
    r2 = pd.DataFrame(rows)
    bars = plot_r2_bars(r2, out / f"structure_r2_{study}.png", order=("original", "sound"))
    panels = {
        f"{cell}, {protocol}": {n: (f.measured, f.predicted, f.r2_pooled) for n, f in r[protocol].items()}
        for cell, r in results.items()
        for protocol in ("original", "sound")
    }
    scatter = plot_predicted_vs_measured(panels, out / f"structure_predicted_{study}.png")
    side = r2.pivot_table(index=["cell", "regressor"], columns="protocol", values="r2").reset_index()
    sound = r2[r2["protocol"] == "sound"][["cell", "regressor", "r2_std", "r2_pooled"]]
    spread = sound.rename(columns={"r2_std": "sound std", "r2_pooled": "sound pooled"})
    side = side.merge(spread, on=["cell", "regressor"])
    lines = ["### Regression of accuracy on the graph features (R²)", ""]
    lines += [
        "`original`: min-max scaling fit on all rows, one 90/10 split (random_state 7), R² of the held-out "
        "10 %. `sound`: scaling inside a pipeline, 5-fold CV repeated 5 times (seed 0), mean R² over "
        "folds ± std, and the pooled R² of the out-of-fold predictions of one 5-fold pass (steadier: "
        "a fold of nearly equal accuracies gives a hugely negative R²).",
        "",
        f"![R² per cell]({bars.name})",
        "",
        f"![predicted vs measured]({scatter.name})",
        "",
    ]
    lines += [*markdown_table(side), ""]
    imp = {cell: r["importance"] for cell, r in results.items()}
    path = plot_importances(imp, out / f"structure_importance_{study}.png")
    lines += [
        "### Feature importance (random forest, sound protocol)",
        "",
        f"![importances]({path.name})",
        "",
    ]
    top = pd.DataFrame(
        {cell: t["feature"].reindex(range(5)).tolist() for cell, t in imp.items()}, index=range(1, 6)
    )
    lines += [*markdown_table(top.reset_index(names="rank")), ""]
    subsets = pd.concat([r["subsets"].assign(cell=cell) for cell, r in results.items()])
    wide = subsets.pivot_table(index=["cell", "subset"], columns="regressor", values="r2").reset_index()
    lines += ["### Feature subsets (sound protocol, mean R²)", "", *markdown_table(wide), ""]
    return lines


def _claims(table: pd.DataFrame, pearson: dict, results: dict) -> list[str]:
    lines = ["### Against the original study", ""]
    means = table.groupby(["cell", "family"])["accuracy"].mean().unstack()
    if {"watts_strogatz", "barabasi_albert"} <= set(means.columns):
        better = [c for c in means.index if means.loc[c, "watts_strogatz"] > means.loc[c, "barabasi_albert"]]
        lines.append(
            f"- Original: WS-based networks beat BA-based ones for every cell. Here: WS better for "
            f"{len(better)} of {len(means)} cells ({', '.join(better) or 'none'})."
        )
    if len(results) > 1:  # "most predictable" needs at least two cells to compare
        rf = {c: r["original"]["random_forest"].r2 for c, r in results.items()}
        best = max(rf, key=rf.get)
        shown = ", ".join(f"{c} {v:.2f}" for c, v in rf.items())
        lines.append(
            f"- Original: GRU most predictable (random-forest R² 0.88, original protocol). Here: {best} "
            f"most predictable; random-forest R² (original protocol): {shown}."
        )
        pooled = {c: max(f.r2_pooled for f in r["sound"].values()) for c, r in results.items()}
        steady = max(pooled, key=pooled.get)
        shown = ", ".join(f"{c} {v:.2f}" for c, v in pooled.items())
        lines.append(
            f"- Sound protocol (pooled out-of-fold R² of the best regressor): {steady} most predictable; "
            f"{shown}."
        )
    for cell, t in pearson.items():
        t = t[t["r"].notna()].reset_index(drop=True)  # a constant feature or accuracy has no rank
        ranks = {
            f: int(t.index[t["feature"] == f][0]) + 1 for f in ORIGINAL_CORRELATES if f in set(t["feature"])
        }
        shown = ", ".join(f"{f} #{rank} of {len(t)}" for f, rank in ranks.items())
        lines.append(
            f"- {cell}: rank by |r| of the original's strongest correlates: {shown}."
            if ranks
            else f"- {cell}: no correlation defined (constant accuracy or properties), no ranking."
        )
    return [*lines, ""]


def _with_seed_and_reference(table: pd.DataFrame, runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    seeds = runs[["run", "seed"]] if "seed" in runs else runs[["run"]].assign(seed=0)
    table = table.merge(seeds, on="run", how="left")
    return table.merge(reference_table(metrics), on=["run", "graph"], how="left")


def _seeded_graph_table(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """:func:`graph_table` with each model's seed and reference accuracy (for a companion study's runs)."""
    table = graph_table(runs, metrics)
    return table if table.empty else _with_seed_and_reference(table, runs, metrics)


def _seed_section(table: pd.DataFrame, features: list[str]) -> list[str]:
    noise = seed_table(table)
    aucs = auc_table(seed_zero(table), features)
    chance = chance_table(table)
    lines = []
    if not noise.empty:
        lines += ["### Seed noise: how much of accuracy can structure explain?", "", SEED_NOTE, ""]
        lines += [*headline(markdown_table(noise)), ""]
        lines += [*ceiling_lines(noise, THESIS_R2), ""]
        means = seed_mean_table(table, features)
        if not means.empty:
            lines += ["#### Predicting one run or the mean of the seeds", "", SEED_MEAN_NOTE, ""]
            lines += [*markdown_table(means), ""]
    if not aucs.empty:
        lines += [
            "### Learns vs stays at chance (classifier on the graph features, ROC AUC)",
            "",
            AUC_NOTE,
            "",
        ]
        lines += [*markdown_table(aucs), ""]
    if not chance.empty:
        lines += ["#### Staying at chance: the graph or the seed?", "", CHANCE_NOTE, ""]
        lines += [*markdown_table(chance), ""]
    return lines


#: Swept columns the tables keep apart (cell, family) or that only split the graph list or change how a
#: run computes, not what: any other swept setting is pooled within a cell and family, and said so.
KEPT_APART = (
    "model.cell",
    "params.family",
    "params.first",
    "params.count",
    "params.engine",
    "params.block",
    "params.test_every_epoch",
    "params.spectral",
    "params.save_models",
)


def pooled_note(runs: pd.DataFrame) -> list[str]:
    """A bold line naming the swept settings the per-cell, per-family tables pool ([] when none).

    Examples
    --------
    >>> runs = pd.DataFrame({"model.cell": ["gru", "gru"], "train.epochs": [5, 15], "params.first": [0, 10]})
    >>> pooled_note(runs)[0]
    '**This study also varies `train.epochs`: every table below pools those settings within a cell and family.**'
    """
    pooled = [c for c in varying_columns(runs) if c not in KEPT_APART]
    if not pooled:
        return []
    shown = ", ".join(f"`{c}`" for c in pooled)
    return [
        f"**This study also varies {shown}: every table below pools those settings within a cell and family.**",
        "",
    ]


def report(runs: pd.DataFrame, metrics: pd.DataFrame, out: Path) -> list[str]:
    """Figures and tables of the structure study (all families and cells of the study's runs).

    With several seeds of the same graphs, the seed-noise section uses every model and the other
    sections the lowest seed of each graph; with reference results, the paired section compares them.
    A study with a companion (:mod:`~sparsernn.studies.reports.companions`) gets the seeds it does not
    train from the companion's runs in the same results folder.
    """
    table = graph_table(runs, metrics)
    if table.empty:
        return ["", "No trained models in this study yet.", ""]
    study = str(runs["study"].iloc[0])
    everything, note = with_companion(
        study, runs, _with_seed_and_reference(table, runs, metrics), _seeded_graph_table, defaults=DEFAULTS
    )
    table = seed_zero(everything)
    seeded = len(everything) > len(table)  # several seeds of some graphs: a seed study
    models = f"{len(everything)} trained models"
    if seeded:
        models += f" ({len(table)} graphs; sections without seeds use the lowest seed of each)"
    cells = sorted(table["cell"].unique())
    features = _features(table)
    covered, coverage = coverage_section(table, runs)
    lines = [
        "",  # after the overview table of the runs: a new paragraph
        f"{models}, {table['family'].nunique()} graph families, {len(cells)} cells.",
        "",
        *headline(covered[:1]),
        *covered[1:],
        *note,
        *pooled_note(runs),
    ]
    lines += _accuracy_section(table, out, study)
    properties = [f for f in features if f in PROPERTY_NAMES]
    lines += paired_section(table, properties, missing_pairs(coverage), lead=not seeded)
    pearson, section = _correlation_section(table, cells, features, out, study)
    lines += section
    results = _regressions(table, cells, features)
    if results:
        lines += _regression_section(results, out, study)
    else:
        lines += [f"(Regressions need at least {MIN_ROWS} models per cell.)", ""]
    return lines + _seed_section(everything, features) + _claims(table, pearson, results)
