"""Protocol ``darji_structure``: Darji's structure study, graph-structured sparse RNNs on Reber strings.

One run trains the models of ``count`` graphs of one family (graphs ``first .. first + count − 1``,
see :mod:`sparsernn.studies.protocols.graph_families`) for one cell kind (``model.cell``): each graph becomes a
:class:`~sparsernn.nn.GraphClassifier` (Embedding(128, #sources) → GraphRNN → Linear), trained with
the run's ``train`` settings (the study: Adam 1e-3, batch 128, 15 epochs, clip 5) on the run's data;
the final-epoch test accuracy is recorded with the graph's features. Runs of one study seed share
the dataset and the batch order, as the original study did; a graph's result does not depend on how
graphs are grouped into runs, so ``count`` only trades resume granularity for speed.

Given graphs: with ``graphs: PATH`` (a JSON-lines file, see
:mod:`sparsernn.studies.protocols.graph_file`) the run trains graphs ``first .. first + count − 1`` of
the file's graphs of ``family`` and of the run's cell instead of drawing them; ``file_layers: true``
builds them with the file's layering (unit order; with ``gate_masks: interleaved`` the thesis'
networks exactly). A line's reference result is logged as ``phase="reference"`` (``accuracy``,
``loss``) for the paired report. Each model is initialised from its graph's stream as for drawn graphs.

Engines: ``"packed"`` (default) trains the run's models together with :func:`sparsernn.train.many.fit_many`
(the same training as one by one, to rounding); ``"modules"`` trains them one by one with
:func:`sparsernn.train.fit` on the fused per-layer modules (the straightforward reference). The
packed engine runs its waves in a compiled kernel where a C compiler is available
(:mod:`sparsernn.nn.wavefront_native`, 3 to 5 times faster than its torch operations), else in torch
operations (``SPARSERNN_WAVEFRONT_KERNEL=0`` forces them); the two agree to float rounding, not bit
for bit, so a rerun on a machine without a compiler reproduces a run to rounding only.
``length_bucketing`` batches strings of similar length: faster, NOT the protocol's batches.

Logged metrics, per graph (index ``graph``): ``phase="features"`` (the graph's features),
``phase="train"`` with ``graph_epoch`` (train loss, test loss and accuracy per epoch), and
``phase="final"`` (``accuracy``, ``loss``). ``graphs.json`` holds every graph (nodes, DAG edges,
seeds), ``graph_<i>.safetensors`` the trained models (``save_models``).
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator, model_validator
from torch.utils.data import DataLoader

from sparsernn._seed import torch_seeded
from sparsernn.data import collate
from sparsernn.errors import SparsernnError
from sparsernn.nn import GraphClassifier, checkpoint_bytes
from sparsernn.studies.config import RunConfig, Section
from sparsernn.studies.protocols.common import Loaders, make_loaders
from sparsernn.studies.protocols.graph_families import FAMILIES, graph_features, graph_stream, make_graph
from sparsernn.studies.protocols.graph_file import check_selection, file_graphs, read_graph_file
from sparsernn.studies.recorder import Recorder
from sparsernn.train import evaluate, fit, make_optimizer
from sparsernn.train.many import LengthBatches, ShuffledBatches, fit_many, flush_denormals

#: Documented maxima: graph indices, graphs trained in one run, nodes of a graph (one unit each).
MAX_GRAPH_INDEX = 1_000_000
MAX_GRAPHS_PER_RUN = 10_000
MAX_NODES = 2_000


class StructureParams(Section):
    """Which graphs (family, index range, node counts), how they are wired and trained."""

    graphs: str | None = None  # first: the family's check reads it
    file_layers: bool = False
    family: str = "barabasi_albert"
    first: int = Field(default=0, ge=0, le=MAX_GRAPH_INDEX)
    count: int = Field(default=10, ge=1, le=MAX_GRAPHS_PER_RUN)
    n_min: int = Field(default=10, ge=2, le=MAX_NODES)
    n_max: int = Field(default=50, ge=2, le=MAX_NODES)
    gate_masks: Literal["blocked", "interleaved"] = "blocked"
    engine: Literal["packed", "modules"] = "packed"
    length_bucketing: bool = False
    block: int = Field(default=2, ge=1)
    test_every_epoch: bool = False
    spectral: bool = True
    save_models: bool = True

    @field_validator("graphs")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                read_graph_file(value)
            except SparsernnError as error:
                raise ValueError(str(error).splitlines()[0]) from None
        return value

    @field_validator("family")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("graphs") is None and value not in FAMILIES:
            raise ValueError(f"unknown graph family {value!r}; choose from {', '.join(sorted(FAMILIES))}")
        return value

    @model_validator(mode="after")
    def _range(self) -> StructureParams:
        if self.n_min > self.n_max:
            raise ValueError(f"n_min ({self.n_min}) must not exceed n_max ({self.n_max})")
        if self.file_layers and self.graphs is None:
            raise ValueError("file_layers needs graphs: the path of a graph file")
        if self.graphs is not None:
            try:
                check_selection(read_graph_file(self.graphs), self.family, self.first, self.count)
            except SparsernnError as error:
                raise ValueError(str(error).splitlines()[0]) from None
        return self


def _train_loader(config: RunConfig, loaders: Loaders, params: StructureParams) -> DataLoader:
    """A fresh training loader: every model trained from it sees the same batches in the same order.

    Batches are drawn by :class:`~sparsernn.train.many.ShuffledBatches` (a seeded permutation per
    epoch), or by length with ``length_bucketing``; the order depends only on the epochs consumed,
    so the packed and the one-by-one engines see identical batches.
    """
    train = loaders.splits.train
    if params.length_bucketing:
        lengths = [len(train[i][0]) for i in range(len(train))]
        sampler = LengthBatches(lengths, config.data.batch_size, seed=config.seed)
    else:
        sampler = ShuffledBatches(len(train), config.data.batch_size, seed=config.seed)
    return DataLoader(train, batch_sampler=sampler, collate_fn=collate)


def _drawn(config: RunConfig, params: StructureParams, index: int) -> tuple[Any, int, Any, dict]:
    """Graph ``index``: drawn from its family, or (``graphs``) read from the file."""
    if params.graphs is None:
        graph, init_seed = make_graph(
            params.family, config.seed, index, n_min=params.n_min, n_max=params.n_max
        )
        return graph, init_seed, None, {}
    record = file_graphs(params.graphs, params.family, config.model.cell, index)
    init_seed = int(graph_stream(config.seed, params.family, index).spawn(2)[1].generate_state(1)[0])
    labels = {"line": record.line, "file_index": record.index, "id": record.id}
    if record.reference_accuracy is not None:
        labels |= {"reference_accuracy": record.reference_accuracy, "reference_loss": record.reference_loss}
    return record.graph(), init_seed, record.layers if params.file_layers else None, labels


def _build(config: RunConfig, params: StructureParams, vocab: int, recorder: Recorder) -> tuple[list, list]:
    """The run's graphs and untrained models; graphs that cannot be drawn are recorded and skipped."""
    graphs, models = [], []
    for index in range(params.first, params.first + params.count):
        entry: dict[str, Any] = {"graph": index, "family": params.family}
        try:
            graph, init_seed, layers, labels = _drawn(config, params, index)
            entry |= {k: v for k, v in labels.items() if v is not None}
            with torch_seeded(init_seed):
                model = GraphClassifier.from_graph(
                    graph,
                    config.model.cell,
                    vocab_size=vocab,
                    gate_masks=params.gate_masks,
                    readout=config.model.readout,
                    layers=layers,
                )
            reference = {
                k.removeprefix("reference_"): v for k, v in entry.items() if k.startswith("reference")
            }
            if reference:
                recorder.log(reference, graph=index, phase="reference")
            recorder.log(graph_features(graph, spectral=params.spectral), graph=index, phase="features")
        except SparsernnError as error:
            entry["error"] = f"{type(error).__name__}: {error}"
            graphs.append(entry)
            continue
        entry |= {"init_seed": init_seed, "nodes": model.config["nodes"], "edges": model.config["edges"]}
        graphs.append(entry)
        models.append((index, model))
    return graphs, models


def _log_epoch(recorder: Recorder, index: int, metrics: dict[str, float]) -> None:
    values = {k: v for k, v in metrics.items() if k != "epoch"}
    recorder.log(values, graph=index, graph_epoch=metrics["epoch"], phase="train")


#: What an engine returns: the final-epoch metrics of every trained graph, and the reason of every
#: graph whose training diverged (graph index → ...).
Trained = tuple[dict[int, dict[str, float]], dict[int, str]]


def _train_packed(config, params, models, train, test, recorder) -> Trained:
    indices = [i for i, _ in models]
    finals: dict[int, dict[str, float]] = {}

    def log(epoch: int, per_model: list) -> None:
        for index, metrics in zip(indices, per_model):
            if metrics is not None:
                _log_epoch(recorder, index, metrics)
                finals[index] = metrics  # the last epoch's metrics stay

    t = config.train
    result = fit_many(
        [m for _, m in models],
        train,
        epochs=t.epochs,
        lr=t.lr,
        optimizer=t.optimizer,
        weight_decay=t.weight_decay,
        momentum=t.momentum,
        clip=t.clip,
        eval_batches=test,
        callbacks=[log],
        block=params.block,
        eval_every_epoch=params.test_every_epoch,
    )
    return finals, {indices[k]: reason for k, reason in result.diverged.items()}


def _train_modules(config, params, models, loaders, recorder) -> Trained:
    finals, diverged = {}, {}
    t = config.train
    for index, model in models:
        optimizer = make_optimizer(
            t.optimizer, model.parameters(), lr=t.lr, weight_decay=t.weight_decay, momentum=t.momentum
        )
        history: list[dict] = []
        try:
            with flush_denormals():  # the same arithmetic as the packed engine
                history = fit(
                    model,
                    _train_loader(config, loaders, params),
                    optimizer,
                    epochs=t.epochs,
                    eval_batches=loaders.test if params.test_every_epoch else None,
                    clip=t.clip,
                )
        except SparsernnError as error:
            diverged[index] = str(error)
            continue
        if history and "accuracy" not in history[-1]:
            history[-1] |= evaluate(model, loaders.test)  # only the last epoch is tested
        for metrics in history:
            _log_epoch(recorder, index, metrics)
        if history:
            finals[index] = history[-1]
    return finals, diverged


def _untrained(models, loaders, recorder) -> Trained:
    """``epochs: 0``: the untrained models' test metrics are their final ones."""
    finals = {}
    for index, model in models:
        finals[index] = {"epoch": 0, **evaluate(model, loaders.test)}
        _log_epoch(recorder, index, finals[index])
    return finals, {}


def run(config: RunConfig, params: StructureParams, recorder: Recorder) -> dict[str, Any]:
    """Draw the run's graphs, build and train their models, record final accuracy and features."""
    with torch_seeded(config.seed):
        loaders = make_loaders(config)
        graphs, models = _build(config, params, loaders.splits.vocab_size or 128, recorder)
        start = time.perf_counter()
        if config.train.epochs == 0:
            finals, diverged = _untrained(models, loaders, recorder)
        elif params.engine == "packed" and models:
            train = _train_loader(config, loaders, params)
            finals, diverged = _train_packed(config, params, models, train, loaders.test, recorder)
        else:
            finals, diverged = _train_modules(config, params, models, loaders, recorder)
        seconds = time.perf_counter() - start
    accuracies = []
    for index, model in models:
        if index in diverged or index not in finals:
            continue
        final = finals[index]
        recorder.log({"accuracy": final["accuracy"], "loss": final["loss"]}, graph=index, phase="final")
        accuracies.append(final["accuracy"])
        if params.save_models:
            recorder.add_file(
                f"graph_{index}.safetensors", checkpoint_bytes(model, {"run": config.model_dump(mode="json")})
            )
    for entry in graphs:
        if entry["graph"] in diverged:
            entry["diverged"] = diverged[entry["graph"]]
    recorder.add_file("graphs.json", json.dumps(graphs, sort_keys=True).encode())
    return {
        "graphs": len(graphs),
        "trained": len(accuracies),
        "diverged": len(diverged),
        "failed_graphs": len(graphs) - len(models),
        "accuracy_mean": float(np.mean(accuracies)) if accuracies else None,
        "accuracy_min": float(np.min(accuracies)) if accuracies else None,
        "accuracy_max": float(np.max(accuracies)) if accuracies else None,
        "train_seconds": round(seconds, 3),
        "models_per_hour": round(3600 * len(models) / seconds, 2) if models and seconds > 0 else None,
    }
