"""Pictures of the analysis: where the cost is, and how it grows.

Each kind is one small module with a ``figure(...)`` that turns analyses into plain figure
data (``figures.py``: ``Bars``, ``Lines``, ``Scatter``), which ``draw.py`` lays out with
matplotlib (an optional extra) — the same split as ``diagram.py`` (DOT text) and
``drawing.py`` (Graphviz):

* ``layers``  — per-layer bars of params, MACs and activation memory (``Bars``);
* ``size``    — a quantity against the input size, from the symbolic formulas (``Lines``,
  evaluated by ``archcalc.growth``);
* ``compare`` — several networks as MACs against params, log–log (``Scatter``).

``command.py`` is what ``archcalc plot`` runs. A new kind is one more module with a
``figure`` returning one of the three shapes, and one more entry in ``command.KINDS``.

Not yet drawn: the memory of a training step by kind (params, grads, optimizer state, saved
activations), which waits for the analysis' training quantities. It belongs in ``training.py``
as ``figure(analysis) -> Bars`` (one category per kind, one panel of bytes), with ``training``
added to ``command.KINDS``, to ``command.plot``'s dispatch and to the CLI's ``--kind`` choices.
"""
