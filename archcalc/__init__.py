"""archcalc: static analysis and cost calculator for neural-network architectures.

YAML spec ──pydantic──▶ Spec ──compile──▶ networkx DiGraph ──evaluate──▶ Analysis ──▶ renderers
(spec.py)                     (graph.py)                   (analysis.py, ops/)      (report.py, cli.py)
"""

__version__ = "0.1.0"
