"""Pictures of the analysis: where the cost is, and how it grows.

Each kind is one small module with a ``figure(...)`` that turns analyses into plain figure
data (``figures.py``: ``Bars``, ``Lines``, ``Scatter``), which ``draw.py`` lays out with
matplotlib (an optional extra) — the same split as ``diagram.py`` (DOT text) and
``drawing.py`` (Graphviz):

* ``layers``  — per-layer bars of params, MACs and activation memory (``Bars``);
* ``size``    — a quantity against the input size, from the symbolic formulas (``Lines``,
  evaluated by ``archcalc.growth``);
* ``compare`` — several networks as MACs against params, log–log (``Scatter``);
* ``training`` — the memory of one training step by kind, the terms of its peak as
  ``archcalc.training.memory`` adds them up (``Bars``, one bar per kind).

``command.py`` is what ``archcalc plot`` runs. A new kind is one more module with a
``figure`` returning one of the three shapes, and one more entry in ``command.KINDS``.
"""
