"""The reports of the study protocols: figures and markdown from loaded results.

A report is ``report(runs, metrics, out) -> markdown lines``, given the complete runs of one study
(one row each, every protocol parameter in a ``params.*`` column) and their metrics.
:mod:`sparsernn.studies.registry` pairs each protocol with its report; a report may import its
protocol's module (for shared definitions), never the registry.
"""
