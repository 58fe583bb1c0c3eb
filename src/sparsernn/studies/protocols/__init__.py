"""The study protocols: what one run of each kind does.

A protocol module defines a pydantic ``Params`` model for its ``params`` section and a function
``run(config, params, recorder) -> summary``; :mod:`sparsernn.studies.registry` names them. Protocol
modules import the machinery below them (config, recorder, pool) and never a report or the registry.

- :mod:`~sparsernn.studies.protocols.train`: train, optionally prune once and fine-tune.
- :mod:`~sparsernn.studies.protocols.darji_pruning`: Darji's pruning-and-recovery study.
- :mod:`~sparsernn.studies.protocols.iterative`: iterative pruning with expansion tracking.
- :mod:`~sparsernn.studies.protocols.structure`: Darji's graph-structured sparse RNNs
  (graphs from :mod:`~sparsernn.studies.protocols.graph_families`).
- :mod:`~sparsernn.studies.protocols.common` and :mod:`~sparsernn.studies.protocols.robustness`:
  what several protocols share.
"""
