"""The gallery in ``reports/``: every network in ``specs/`` as a Markdown report and a diagram,
and ``reports/README.md`` comparing them side by side.

``archcalc gallery`` (``make reports``) rebuilds it; ``archcalc gallery --check`` and
``tests/test_gallery.py`` fail when it is stale or misses a spec. What "current" means:

* Markdown (``NAME.md``, ``README.md``) and the DOT source (``NAME.dot``) must equal a fresh
  rendering byte for byte; both are deterministic (no timestamps, specs in sorted order).
* An SVG's layout differs between Graphviz versions, so it is not compared: instead
  ``NAME.svg`` carries the SHA-256 of the DOT it was drawn from (a ``comment`` attribute,
  which Graphviz copies into the SVG), and it is current when that digest matches.

Specs come from ``specs/`` and its subfolders (``specs/torchvision/x.yaml`` →
``reports/torchvision/x.*``), except ``specs/claims/``, which holds claim files.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from archcalc import writing
from archcalc.analysis import Analysis, analyse, load_network
from archcalc.compare import markdown as compare_markdown
from archcalc.compare import summarise
from archcalc.diagram import build, to_dot
from archcalc.drawing import INSTALL_HINT, GraphvizMissing, render
from archcalc.html_report import gallery_pages as pages
from archcalc.report import markdown
from archcalc.training.memory import Training, analyse_training
from archcalc.training.rules import MissingRules

NOT_NETWORKS = ("claims",)
#: a diagram with more nodes than this is drawn collapsed in the gallery
MAX_NODES = 120
#: the training step the gallery shows: Adam in float32 on a GPU, and the largest batch that fits in 80 GiB
TRAINING = {"optimizer": "adam", "device": "cuda"}
FIT = "80GiB"
GENERATED = ("*.md", "*.dot", "*.svg", "*.html")
DIGEST_PREFIX = "archcalc_dot_sha256_"


@dataclass
class Entry:
    stem: str  # the spec's path under specs/ without .yaml, e.g. "torchvision/resnet18"
    analysis: Analysis
    depth: int | None  # None: drawn whole
    dot: str
    training: Training | None = None
    training_note: str | None = None  # why there is no training step (an op without training rules)


def network_specs(specs_dir: Path) -> list[Path]:
    return sorted(p for p in Path(specs_dir).rglob("*.yaml") if not set(p.relative_to(specs_dir).parts) & set(NOT_NETWORKS))


def gallery_depth(analysis: Analysis) -> int | None:
    """None when the whole network fits in MAX_NODES nodes; else the deepest --depth that does (0 at worst)."""
    if len(build(analysis).nodes) <= MAX_NODES:
        return None
    deepest = max((len(s.scopes) for s in analysis.layers), default=0)
    for depth in range(deepest - 1, 0, -1):
        if len(build(analysis, depth).nodes) <= MAX_NODES:
            return depth
    return 0


def entry(spec: Path, specs_dir: Path) -> Entry:
    network = load_network(spec)
    analysis = analyse(network)
    color = None if analysis.symbols else "macs"  # shading needs numbers
    depth = gallery_depth(analysis)
    try:
        training, note = analyse_training(network, analysis, **TRAINING, fit=None if analysis.symbols else FIT), None
    except MissingRules as error:  # said on the page and "-" in the index, never a zero
        training, note = None, error.message
    return Entry(_stem(spec, specs_dir), analysis, depth, to_dot(build(analysis, depth, color)), training, note)


def _stem(spec: Path, specs_dir: Path) -> str:
    return spec.relative_to(specs_dir).with_suffix("").as_posix()


def texts(entries: list[Entry]) -> dict[str, str]:
    """Every Markdown and DOT file of the gallery, by its path under reports/."""
    files = {"README.md": index(entries)}
    for e in entries:
        files[f"{e.stem}.md"] = network_page(e)
        files[f"{e.stem}.dot"] = e.dot
    return files


def claims_files(specs_dir: Path) -> dict[str, str]:
    """claims.md, the notes' claims checked (archcalc.verify.page), when specs_dir holds them."""
    notes = Path(specs_dir) / "claims" / "seed-notes.yaml"
    if not notes.is_file():
        return {}
    from archcalc.verify import page, verify_file

    return {"claims.md": page(verify_file(notes))}


def network_page(e: Entry) -> str:
    name = Path(e.stem).name
    lines = [markdown(e.analysis, training=e.training).rstrip("\n"), ""]
    if e.training_note:
        lines += [f"Training step not shown: {e.training_note}", ""]
    lines += ["## Diagram", "", f"![{e.analysis.name}]({name}.svg)", ""]
    lines.append("Edges carry the tensor shapes; nodes are shaded by multiply-accumulates; dashed: training-only.")
    if e.depth is not None:
        lines.append(f"Blocks nested deeper than {e.depth} are drawn as one node each (a repeated block once, ×n).")
        lines.append(f"The whole network: `archcalc diagram specs/{e.stem}.yaml -o {name}.svg`.")
    lines.append("")
    return "\n".join(lines)


def comparison_markdown(analyses: dict[str, Analysis], trainings: dict[str, Training] | None = None) -> str:
    """The side-by-side table — `archcalc compare`'s, one row per network linked to its report."""
    rows = []
    for link, analysis in analyses.items():
        row = summarise(analysis, (trainings or {}).get(link))
        row["name"] = f"[{analysis.name}]({link})"
        rows.append(row)
    return compare_markdown(rows)


def index(entries: list[Entry]) -> str:
    lines = [
        "# Gallery",
        "",
        "Every network in `specs/`: its report (per-layer table and totals), its diagram, and its HTML page (summary,",
        "plots, diagram, and the per-layer table to sort and fold; download it and open it in a browser).",
        "Generated by `make reports` (`archcalc gallery`); do not edit by hand — `archcalc gallery --check` fails when it is stale.",
        "",
        comparison_markdown({f"{e.stem}.md": e.analysis for e in entries}, {f"{e.stem}.md": e.training for e in entries}),
        "![The networks of specs/ by params and MACs](compare.svg)",
        "",
        "| Network | Report | Diagram | Page |",
        "| --- | --- | --- | --- |",
    ]
    for e in entries:
        drawn = "whole" if e.depth is None else f"collapsed: --depth {e.depth}"
        lines.append(
            f"| {e.analysis.name} | [{e.stem}.md]({e.stem}.md) | [{e.stem}.svg]({e.stem}.svg) ({drawn}) | [{e.stem}.html]({e.stem}.html) |"
        )
    return "\n".join(lines) + "\n"


def digest(dot: str) -> str:
    return DIGEST_PREFIX + hashlib.sha256(dot.encode()).hexdigest()


def _stamped(dot: str) -> str:
    """The DOT with its own digest as the graph's comment, which Graphviz writes into the SVG."""
    head, rest = dot.split("\n", 1)
    return f"{head}\n  comment={digest(dot)};\n{rest}"


def build_gallery(specs_dir: Path, reports_dir: Path) -> list[Path]:
    """Write the whole gallery, replacing what it wrote there before; returns the files written.
    Only files the gallery wrote are replaced or removed (archcalc.writing's manifest)."""
    if shutil.which("dot") is None:
        raise GraphvizMissing(f"the gallery's SVG diagrams need Graphviz's `dot`, which was not found: {INSTALL_HINT}")
    pages.need_matplotlib()
    writing.claim_folder(reports_dir, ())  # a folder that is not a gallery: refused before the work
    entries = [entry(spec, specs_dir) for spec in network_specs(specs_dir)]
    files, pictures = {**texts(entries), **claims_files(specs_dir)}, pages.items(entries, specs_dir)
    names = gallery_files(files, pictures)
    old = writing.claim_folder(reports_dir, names)  # before anything is written
    reports_dir.mkdir(parents=True, exist_ok=True)
    writing.remove_old(reports_dir, old, names)  # the files of removed specs
    written = []
    for rel, text in files.items():
        path = reports_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
        if rel.endswith(".dot"):
            written.append(render(_stamped(text), path.with_suffix(".svg"))[0])
    written += pages.write(pictures, reports_dir)
    writing.write_manifest(reports_dir, names)
    return written


def gallery_files(files: dict[str, str], pictures: dict) -> set[str]:
    """Every path the gallery writes under reports/ (what its manifest lists)."""
    svgs = {rel[: -len(".dot")] + ".svg" for rel in files if rel.endswith(".dot")}
    return set(files) | svgs | set(pictures)


def stale(specs_dir: Path, reports_dir: Path) -> list[str]:
    """What differs between reports/ and a fresh rendering: one line per file, empty when current."""
    entries = [entry(spec, specs_dir) for spec in network_specs(specs_dir)]
    files, pictures = {**texts(entries), **claims_files(specs_dir)}, pages.items(entries, specs_dir)
    problems = pages.stale(pictures, reports_dir)
    for rel, text in files.items():
        path = reports_dir / rel
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: out of date")
        if rel.endswith(".dot"):
            svg = path.with_suffix(".svg")
            if not svg.exists():
                problems.append(f"{svg}: missing")
            elif f"<!-- {digest(text)} -->" not in svg.read_text(encoding="utf-8"):
                problems.append(f"{svg}: not drawn from the current {path.name}")
    return problems + _orphans_and_manifest(reports_dir, gallery_files(files, pictures))


def _orphans_and_manifest(reports_dir: Path, names: set[str]) -> list[str]:
    """Files the gallery wrote that no spec makes now, and a manifest that is not current.
    Files it did not write are the user's: not its business."""
    manifest = reports_dir / writing.MANIFEST
    if manifest.is_file():
        owned = writing.owned_files(reports_dir) or set()
        problems = [f"{reports_dir / rel}: no spec makes it" for rel in sorted(owned - names) if (reports_dir / rel).exists()]
        if manifest.read_text(encoding="utf-8") != writing.manifest_text(names):
            problems.append(f"{manifest}: out of date")
        return problems
    found = {p.relative_to(reports_dir).as_posix() for pattern in GENERATED for p in reports_dir.rglob(pattern)}
    problems = [f"{reports_dir / rel}: no spec makes it" for rel in sorted(found - names)]
    return problems + [f"{manifest}: missing"] if reports_dir.is_dir() else problems
