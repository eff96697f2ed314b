"""Training cost, derived statically: what a training step keeps, computes and holds.

- ``rules``:      the vocabulary op units state their training rules in (``Op.training_rules``);
- ``model``:      those rules evaluated over the analysed graph — each layer's saved tensors
                  (one storage counted once, in-place ops and views as the torch backend
                  builds them), its backward multiply-adds split into input and weight
                  gradients, and the network's totals;
- ``memory``:     parameters, gradients, optimizer state, the peak of a step, ``--fit``;
- ``checkpoint``: activation checkpointing of named blocks (``--checkpoint``), as a what-if;
- ``render``:     the training columns, totals and JSON the renderers share;
- ``explain``:    each training number's derivation, for ``archcalc explain --training``.

Kept free of imports here: ``archcalc.ops`` imports ``rules`` while the ops are being defined,
and the CLI reads the choices below at start-up.
"""

#: copies of the parameters each optimizer keeps (SGD's momentum buffer; Adam's two moments)
OPTIMIZERS = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
DEFAULT_OPTIMIZER = "adam"
#: whose autograd the rules model: they differ in dropout's mask (bool on CUDA, --dtype on the CPU)
DEVICES = ("cuda", "cpu")
