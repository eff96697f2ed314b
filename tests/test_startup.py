"""What a cold ``archcalc`` command loads: the speed of issue 16 kept as a property of the
imports, which (unlike a time) a test can check on a noisy machine."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: run the command in-process the way the ``archcalc`` script does, then list what it imported
COMMAND = """
import json, sys
sys.argv = ["archcalc", *{arguments!r}]
from archcalc.__main__ import run
try:
    run()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def imported_by(*arguments: str) -> set[str]:
    code = COMMAND.format(arguments=list(arguments))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip(), "the report printed nothing"
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


def test_a_numeric_report_loads_neither_sympy_nor_networkx_nor_the_plugin_finder():
    modules = imported_by("report", "specs/resnet152.yaml")
    assert {"archcalc.analysis", "pydantic.main"} <= modules  # it did validate and analyse
    assert not {"sympy", "networkx", "importlib.metadata", "torch", "archcalc.timings"} & modules


def test_a_symbolic_report_loads_sympy_and_still_no_plugin_finder():
    modules = imported_by("report", "specs/lenet5.yaml", "--input", "1,H,W")
    assert "sympy" in modules and "importlib.metadata" not in modules


def test_validation_works_with_the_plugin_loader_stood_in_for():
    # the stand-in answers "no plugins", and pydantic builds plain validators: a bad field
    # is still refused with pydantic's own error
    code = (
        "from archcalc.__main__ import without_pydantic_plugins\n"
        "without_pydantic_plugins()\n"
        "import sys, pydantic\n"
        "class A(pydantic.BaseModel):\n"
        "    x: int\n"
        "assert A(x='3').x == 3\n"
        "try:\n"
        "    A(x='three')\n"
        "except pydantic.ValidationError as error:\n"
        "    print(error.errors()[0]['type'])\n"
        "print('importlib.metadata' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.stdout.split() == ["int_parsing", "False"], result.stderr[-2000:]


def test_importing_archcalc_leaves_pydantic_plugins_alone():
    # only the command stands in for the loader: a program that uses archcalc keeps its plugins
    # (the real loader is the module that imported importlib.metadata's entry_points)
    code = (
        "import sys\n"
        "from archcalc.analysis import load_network\n"
        "load_network('specs/lenet5.yaml')\n"
        "print(hasattr(sys.modules['pydantic.plugin._loader'], 'entry_points'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.stdout.split() == ["True"], result.stderr[-2000:]
