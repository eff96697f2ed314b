"""archcalc: static analysis and cost calculator for neural-network architectures.

YAML spec ──pydantic──▶ Spec ──compile──▶ LayerGraph ──evaluate──▶ Analysis ──▶ renderers
(spec.py)                     (graph.py, dag.py)     (analysis.py, ops/)      (report.py, cli.py)

``Network.graph`` gives the layer graph as a networkx DiGraph; archcalc itself uses its own
small LayerGraph (dag.py), because importing networkx cost more than a whole numeric report.
"""

__version__ = "0.1.0"
