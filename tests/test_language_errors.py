"""Every misuse of the language is one or two lines naming the file, the line, the path, what
was expected and what was found (exit 2, no traceback)."""

from __future__ import annotations

import pytest

from tests.conftest import located_error

HEAD = "name: t\ninput: [3, 8, 8]\nlayers:\n"  # the first layer is on line 4
SYMBOLIC = "name: t\ninput: [3, H, W]\nlayers:\n"
BLOCK = "name: t\ninput: [3, 8, 8]\nblocks:\n  b:\n"  # the block's fields from line 5


CASES = {
    # counts and arguments
    "count_not_whole": (
        HEAD + "  - conv: {out: C_in * 1.5, kernel: 1}\n",
        [":4:", "layers.0.conv.out", "expected a whole number, found 9/2"],
    ),
    "argument_not_whole": (
        BLOCK + "    args: {w: int}\n    layers: [conv: {out: w, kernel: 1}]\nlayers: [b: {w: 3 / 2}]\n",
        [":7:", "layers.0", "argument 'w' = 3/2 of block 'b'", "expected an integer, found a number 3/2"],
    ),
    "bool_is_no_integer": (
        BLOCK + "    args: {w: 4}\n    layers: [conv: {out: w, kernel: 1}]\nlayers: [b: {w: true}]\n",
        [":7:", "argument 'w' = true of block 'b'", "expected an integer, found true/false"],
    ),
    "float_type_word": (BLOCK + "    args: {w: float}\n    layers: [relu]\nlayers: [b]\n", [":5:", "blocks.b.args", "write `number`"]),
    "network_argument_needs_a_value": ("name: t\ninput: [3, 8, 8]\nargs: {w: int}\nlayers: [relu]\n", [":3:", "args", "needs a value"]),
    "mapping_as_argument": ("name: t\ninput: [3, 8, 8]\nargs: {w: {a: 1}}\nlayers: [relu]\n", [":3:", "args", "expected a number"]),
    "infinite_argument": ("name: t\ninput: [3, 8, 8]\nargs: {w: .inf}\nlayers: [relu]\n", [":3:", "args", "finite"]),
    "reserved_argument_name": (BLOCK + "    args: {C_in: 3}\n    layers: [relu]\nlayers: [b]\n", [":5:", "blocks.b.args", "'C_in'"]),
    "argument_named_like_a_block": (
        BLOCK + "    layers: [relu]\n  c:\n    args: {b: 1}\n    layers: [relu]\nlayers: [c]\n",
        ["both an argument (or let) and a block"],
    ),
    "let_fails_on_its_line": (
        "name: t\ninput: [3, 8, 8]\nargs: {n: 2}\nlet:\n  ok: n + 1\n  bad: n / 0\nlayers: [relu]\n",
        [":6:", "let.bad", "division by zero"],
    ),
    "index_outside_the_list": (
        "name: t\ninput: [3, 8, 8]\nargs: {widths: [4, 8]}\nlayers:\n  - conv: {out: 'widths[2]', kernel: 1}\n",
        [":5:", "layers.0.conv.out", "index 2 is outside the list of 2 items"],
    ),
    "unknown_function": (
        HEAD + "  - conv: {out: 'mul(3, 2)', kernel: 1}\n",
        [":4:", "layers.0.conv.out", "unknown function 'mul' is not allowed"],
    ),
    "unknown_name_in_expression": (HEAD + "  - conv: {out: 'widht * 2', kernel: 1}\n", [":4:", "unknown name 'widht'"]),
    "rounding_a_symbolic_size": (
        SYMBOLIC + "  - avgpool: {kernel: 'round(H_in / 2)'}\n",
        [":4:", "layers.0.avgpool.kernel", "round needs a concrete number", "symbolic"],
    ),
    # shapes while compiling
    "shape_from_a_later_layer": (
        BLOCK + "    layers: [conv: {out: C_in, kernel: 1}]\nlayers:\n  - b: {from: late}\n  - relu: {name: late, from: input}\n",
        [":7:", "layers.0", "`from: late` names no layer declared so far", "C_in"],
    ),
    "channels_of_a_flat_input": (
        BLOCK + "    layers: [linear: {out: C_in}]\nlayers: [flatten, b]\n",
        [":5:", "blocks.b.layers.0.linear.out", "C_in: the input of b1 is a flat (F,) vector: use F_in"],
    ),
    # conditions
    "undecidable_for_symbolic_sizes": (
        SYMBOLIC + "  - relu: {if: H_in > 7}\n",
        [":4:", "layers.0.relu.if", "cannot be decided for symbolic input sizes"],
    ),
    "condition_not_true_or_false": (
        HEAD + "  - relu: {if: C_in}\n",
        [":4:", "layers.0.relu.if", "`if:` takes a condition", "found an integer 3"],
    ),
    "and_takes_conditions": (HEAD + "  - relu: {if: C_in and true}\n", [":4:", "`and` takes true or false, found an integer 3"]),
    "compare_a_word_with_a_number": (
        BLOCK + "    args: {act: relu}\n    layers: [relu: {if: act == 1}]\nlayers: [b]\n",
        [":6:", "blocks.b.layers.0.relu.if", "cannot compare a word 'relu' with an integer 1"],
    ),
    "order_of_words": (HEAD + "  - relu: {if: \"'a' < 'b'\"}\n", [":4:", "takes numbers, found a word 'a'"]),
    # loops
    "for_is_text": (HEAD + "  - relu: {for: 3}\n", [":4:", "layers.0.relu.for", "`for:` takes loops as text"]),
    "for_without_in": (HEAD + "  - relu: {for: range(3)}\n", [":4:", "layers.0.relu.for", "expected loops `names in list`"]),
    "loop_over_a_number": (HEAD + "  - relu: {for: i in 3}\n", [":4:", "a loop runs over a list, found an integer 3"]),
    "unpacking_a_row": (HEAD + "  - relu: {for: 'a, b in [[1, 2, 3]]'}\n", [":4:", "cannot unpack [1, 2, 3] into 2 names"]),
    "loop_too_long": (HEAD + "  - relu: {for: i in range(10**6)}\n", [":4:", "longer than 100,000 items"]),
    # names
    "template_unknown_name": (HEAD + "  - relu: {name: 'r{j}'}\n", [":4:", "layers.0.relu.name", "name template 'r{j}': unknown name 'j'"]),
    "template_takes_names_only": (
        HEAD + "  - relu: {for: j in range(2), name: 'r{j + 1}'}\n",
        [":4:", "only a name goes in braces", "{j + 1}"],
    ),
    "template_of_a_number": (
        "name: t\ninput: [3, 8, 8]\nargs: {w: 0.5}\nlayers:\n  - relu: {name: 'r{w}'}\n",
        [":5:", "w is a number 1/2, not an integer or a word"],
    ),
    "one_name_for_every_instance": (HEAD + "  - relu: {for: i in range(2), name: r}\n", [":4:", "duplicate layer name 'r'"]),
    "op_from_a_number": (
        BLOCK + "    args: {act: 3}\n    layers: [act]\nlayers: [b]\n",
        [":6:", "blocks.b.layers.0", "'act' stands for an op, but holds an integer 3"],
    ),
    # outputs
    "dangling_gate": (
        HEAD
        + "  - conv: {name: expand, out: 8, kernel: 1}\n  - conv: {name: gate, out: 8, kernel: 1}\n  - sigmoid\n"
        + "  - conv: {name: project, out: 4, kernel: 1, from: expand}\n",
        [":5:", "layers.1 (gate)", "layer 'gate' (and 1 more: sigmoid1) reaches no output of the network (outputs: project)"],
    ),
    "unknown_output": (HEAD + "  - relu\noutputs: [relu1, nope]\n", [":5:", "outputs.1", "`outputs: nope` names no layer"]),
}


@pytest.mark.parametrize("case", CASES)
def test_misuse_is_a_located_error(case, write_spec, cli):
    text, fragments = CASES[case]
    path = write_spec(text)
    message = located_error(cli, path)
    assert message.startswith(f"archcalc: error: {path}:"), message  # with the line
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
