"""Packaging beyond pyproject.toml: the bundled specs (specs/) ship inside the package as
``archcalc.zoo``, so ``archcalc report resnet50`` works from any folder after ``pip install``.
The zoo's folders are found on disk: a spec added under specs/ ships without an edit here."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent
FOLDERS = sorted(p.relative_to(ROOT / "specs") for p in (ROOT / "specs").rglob("*") if p.is_dir())
ZOO = ["archcalc.zoo", *("archcalc.zoo." + ".".join(folder.parts) for folder in FOLDERS)]

setup(
    packages=find_packages(include=["archcalc*"]) + ZOO,
    package_dir={"archcalc.zoo": "specs"},
    package_data={"archcalc.html_report": ["*.css", "*.js"], **{package: ["*.yaml", "*.json"] for package in ZOO}},
)
