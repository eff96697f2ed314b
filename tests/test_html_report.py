"""The HTML report, as a person sees it: rendered in a real headless Chromium (one browser for
the whole module), it loads with no console error and asks for nothing beyond itself; the
table's totals are the JSON report's; sorting and folding do what a reader expects."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from archcalc.cli import main
from tests.browser import Browser, chromium, problems, requests
from tests.conftest import ROOT

SPECS, REPORTS = ROOT / "specs", ROOT / "reports"
pytest.importorskip(
    "matplotlib", reason="the HTML report's plots need matplotlib: pip install -e '.[plot]' (scripts/setup --test installs it)"
)
needs_browser = pytest.mark.skipif(
    chromium() is None, reason="no Chromium: scripts/setup installs Debian's chromium (apt-get install chromium)"
)
# column indexes of the layer table; with --training, its columns follow the activations
NUMBER, LAYER, PARAMS, MACS, FLOPS, ACTIVATIONS = 0, 1, 4, 5, 6, 7
SAVED, GRAD_IN, GRAD_W = 8, 9, 10
TRAINING_COLUMNS = {SAVED: "saved_bytes", GRAD_IN: "backward_input_macs", GRAD_W: "backward_weight_macs"}


def run(*args) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The pages and JSON reports of AlexNet (a chain), GoogLeNet (blocks, branches and
    training-only heads) and LeNet-5 with names for its input size (formulas in every cell);
    and with a training step: AlexNet's (with --fit), GoogLeNet's, and LeNet-5's in a named batch."""
    folder = tmp_path_factory.mktemp("html")
    cases = {
        "alexnet": ("alexnet", []),
        "googlenet": ("googlenet", []),
        "lenet-symbolic": ("lenet5", ["--input", "1,H,W"]),
        "alexnet-training": ("alexnet", ["--training", "--fit", "80GiB"]),
        "googlenet-training": ("googlenet", ["--training", "--optimizer", "momentum", "--device", "cpu"]),
        "lenet-batch-N": ("lenet5", ["--training", "--batch", "N"]),
    }
    out = {}
    for key, (spec, options) in cases.items():
        path = folder / f"{key}.html"
        assert run("report", SPECS / f"{spec}.yaml", "--format", "html", "-o", path, *options) == f"wrote {path}\n"
        out[key] = (path, json.loads(run("report", SPECS / f"{spec}.yaml", "--format", "json", *options)))
    return out


@pytest.fixture(scope="module")
def browser():
    started = Browser(chromium())
    yield started
    started.close()


def test_the_page_is_self_contained(pages):
    text = pages["alexnet"][0].read_text()
    assert text.count("<style>") == 1 and text.count("<script>") == 1
    # every reference stays inside the page (XML namespace names are names, never fetched)
    assert re.findall(r"\ssrc=", text) == [] and "<link" not in text and "@import" not in text
    assert {m for m in re.findall(r'href="([^"]*)"', text) if not m.startswith("#")} == set()
    assert {m for m in re.findall(r"url\(([^)]*)\)", text) if not m.startswith("#")} == set()
    assert text.count("<svg") == 3  # the per-layer plot, the size plot, the diagram


def test_one_row_per_layer_and_per_block(pages):
    path, report = pages["googlenet"]
    text = path.read_text()
    names = re.findall(r'<tr class="layer[^"]*" data-name="([^"]+)"', text)
    assert names == [layer["name"] for layer in report["layers"]]
    scopes = set(re.findall(r'<tr class="scope" data-scope="([^"]+)"', text))
    assert scopes == {scope for layer in report["layers"] for scope in layer["scopes"]}


def test_rendering_twice_gives_the_same_page(tmp_path):
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    for path in (first, second):
        run("report", SPECS / "lenet5.yaml", "--format", "html", "-o", path)
    assert first.read_bytes() == second.read_bytes()


# --- in the browser ----------------------------------------------------------------------------
def visible(browser) -> list[str]:
    return browser.evaluate("[...document.querySelectorAll('#layers tbody tr:not(.hidden)')].map(r => r.dataset.name || r.dataset.scope)")


def click_heading(browser, column: int) -> None:
    browser.evaluate(f"document.querySelectorAll('#layers thead th')[{column}].click()")


def gallery_pages() -> list:
    return sorted(REPORTS.glob("*.html"))


@needs_browser
def test_every_page_loads_cleanly_and_asks_for_nothing_else(browser, pages):
    paths = [path for path, _ in pages.values()] + gallery_pages()
    assert len(paths) > 3
    for path in paths:
        events = browser.open(path)
        assert problems(events) == [], path
        assert requests(events) == [path.resolve().as_uri()], path
        assert browser.evaluate("document.querySelectorAll('#layers tbody tr').length") > 0, path


@needs_browser
@pytest.mark.parametrize("key", ["alexnet", "googlenet"])
def test_the_totals_are_the_json_reports(browser, pages, key):
    path, report = pages[key]
    browser.open(path)
    rows = {"totals": report["totals"]} | ({"inference_totals": report["inference_totals"]} if key == "googlenet" else {})
    for which, totals in rows.items():
        cells = browser.evaluate(
            f"[...document.querySelector('#layers tfoot tr[data-totals={which}]').cells].map(c => [c.textContent, c.dataset.v || null])"
        )
        expected = {PARAMS: totals["params"], MACS: totals["macs"], FLOPS: totals["flops"], ACTIVATIONS: totals["activations"]["bytes"]}
        for column, value in expected.items():
            assert cells[column] == [f"{value:,}", str(value)], (which, column)  # what a reader sees, and the exact key
        assert cells[2][0] == f"{totals['layers']} layers"


@needs_browser
def test_sorting_by_any_column(browser, pages):
    path, report = pages["alexnet"]
    browser.open(path)
    layers = report["layers"]
    order = [layer["name"] for layer in layers]
    assert visible(browser) == order
    click_heading(browser, MACS)
    assert visible(browser) == [layer["name"] for layer in sorted(layers, key=lambda layer: layer["macs"])]
    assert browser.evaluate("document.querySelectorAll('#layers thead th')[5].getAttribute('aria-sort')") == "ascending"
    click_heading(browser, MACS)  # again: reversed (ties keep the network's order)
    assert visible(browser) == [layer["name"] for layer in sorted(layers, key=lambda layer: layer["macs"], reverse=True)]
    click_heading(browser, ACTIVATIONS)
    assert visible(browser) == [layer["name"] for layer in sorted(layers, key=lambda layer: layer["activations"]["bytes"])]
    click_heading(browser, LAYER)
    assert visible(browser) == sorted(order)
    click_heading(browser, NUMBER)
    assert visible(browser) == order


@needs_browser
def test_blocks_fold_and_sort_within_themselves(browser, pages):
    path, report = pages["googlenet"]
    browser.open(path)
    layers = report["layers"]
    inside = [layer for layer in layers if "inception_3a" in layer["scopes"]]
    # the block's subtotal, as the reader sees it, is the sum of its layers
    subtotal = browser.evaluate("document.querySelector('tr[data-scope=inception_3a]').cells[5].textContent")
    assert subtotal == f"{sum(layer['macs'] for layer in inside):,}"
    shown = visible(browser)
    browser.evaluate("document.querySelector('tr[data-scope=inception_3a] button.fold').click()")
    folded = visible(browser)
    assert "inception_3a" in folded and not set(folded) & {layer["name"] for layer in inside}
    assert len(folded) == len(shown) - len(inside) - len({s for layer in inside for s in layer["scopes"]} - {"inception_3a"})
    browser.evaluate("document.querySelector('tr[data-scope=inception_3a] button.fold').click()")
    assert visible(browser) == shown
    # grouped sorting orders each block's own rows: inception_3a's four branches by their MACs, most first
    click_heading(browser, MACS)
    click_heading(browser, MACS)
    branches = [name for name in visible(browser) if re.fullmatch(r"inception_3a\.branch\d", name)]
    macs = {b: sum(layer["macs"] for layer in inside if b in layer["scopes"]) for b in branches}
    assert len(branches) == 4 and branches == sorted(branches, key=lambda b: -macs[b])
    browser.evaluate("document.getElementById('fold-all').click()")
    top = {layer["scopes"][0] if layer["scopes"] else layer["name"] for layer in layers}
    assert set(visible(browser)) == top
    browser.evaluate("document.getElementById('unfold-all').click()")
    assert len(visible(browser)) == len(shown)
    browser.evaluate("document.getElementById('group').click()")  # ungrouped: the layers alone
    assert sorted(visible(browser)) == sorted(layer["name"] for layer in layers)


@needs_browser
def test_a_symbolic_report_shows_its_formulas(browser, pages):
    path, report = pages["lenet-symbolic"]
    events = browser.open(path)
    assert problems(events) == []
    assert browser.evaluate("document.querySelector('#where')") is None  # bars need numbers
    cell = browser.evaluate("document.querySelector('#layers tfoot tr[data-totals=totals]').cells[5].innerHTML")
    assert "<var>H</var>" in cell and "⌊" in cell
    assert browser.evaluate("document.querySelector('#layers tfoot tr[data-totals=totals]').cells[5].dataset.v") == report["totals"]["macs"]
    assert "Plotted for" in browser.evaluate("document.querySelector('#growth').textContent")


@needs_browser
def test_measured_times_sort_with_the_unmeasured_last(browser, tmp_path):
    saved = tmp_path / "timings.json"
    rows = [{"name": "C1", "ms": 0.25}, {"name": "C3", "ms": 0.125}, {"name": "F6", "ms": 0.5}]
    run_saved = {"format": "archcalc-timings/1", "name": "LeNet-5", "device": "cpu", "device_name": "test", "dtype": "float32", "batch": 1}
    saved.write_text(json.dumps(run_saved | {"latency_ms": {"median": 1.0, "p10": 0.9, "p90": 1.1}, "per_layer": rows}))
    path = tmp_path / "lenet5.html"
    run("report", SPECS / "lenet5.yaml", "--format", "html", "--timings", saved, "-o", path)
    assert problems(browser.open(path)) == []
    measured = 9  # the column after the receptive field
    click_heading(browser, measured)
    assert visible(browser)[:4] == ["C3", "C1", "F6", "tanh1"]  # 0.125, 0.25, 0.5, then the network's order
    click_heading(browser, measured)
    assert visible(browser)[:4] == ["F6", "C1", "C3", "tanh1"] and visible(browser)[-1] == "output"


def test_output_option_writes_any_format(tmp_path):
    path = tmp_path / "a.json"
    assert run("report", SPECS / "lenet5.yaml", "--format", "json", "-o", path) == f"wrote {path}\n"
    assert path.read_text() == run("report", SPECS / "lenet5.yaml", "--format", "json")


# --- the training step ---------------------------------------------------------------------------
def terms(text: str) -> dict[str, str]:
    """The training section's rows: JSON name → the exact value the cell carries."""
    return dict(re.findall(r'<tr[^>]* data-term="([^"]+)"><th scope="row">.*?</th><td class="num[^"]*" data-v="([^"]*)"', text))


def shown_terms(text: str) -> dict[str, tuple[str, str]]:
    """The training section's rows: JSON name → the cell's class and the typeset value it shows."""
    rows = re.findall(r'<tr[^>]* data-term="([^"]+)"><th scope="row">.*?</th><td class="([^"]*)"[^>]*>(.*?)</td>', text)
    return {term: (cls, shown) for term, cls, shown in rows}


def test_the_training_section_is_the_json_reports(pages):
    path, report = pages["alexnet-training"]
    text, t = path.read_text(), report["training"]
    shown = terms(text)
    names = ["param_bytes", "buffer_bytes", "grad_bytes", "optimizer_state_bytes", "live_bytes", "saved_bytes", "transient_bytes",
             "peak_bytes", "backward_input_macs", "backward_weight_macs", "backward_macs", "forward_macs", "step_macs"]  # fmt: skip
    assert {name: shown[name] for name in names} == {name: str(t[name]) for name in names}
    assert shown["live_bytes − saved_bytes"] == str(t["live_bytes"] - t["saved_bytes"])
    assert f'data-term="fit.batch" data-v="{t["fit"]["batch"]}"' in text
    assert f"at {t['transient_layer']}" in text
    assert text.count("<svg") == 4  # the per-layer plot, the size plot, the training plot, the diagram
    assert '<a href="#training">' in text and "<th" in text and ">Saved (bytes)</th>" in text


def test_a_named_batch_shows_formulas_and_no_training_plot(pages):
    path, report = pages["lenet-batch-N"]
    text = path.read_text()
    # test_training's formula: the exact key is the JSON's; the reader sees it typeset, as the layer table's formulas
    assert terms(text)["peak_bytes"] == report["training"]["peak_bytes"] == "127448*N + 963360"
    assert shown_terms(text)["peak_bytes"] == ("num formula", "127,448·<var>N</var> + 963,360")
    assert shown_terms(text)["param_bytes"] == ("num", "240,000")  # LeNet-5's 60,000 float32 parameters: a number, right-aligned
    assert 'id="figure-training"' not in text and 'id="training"' in text


@needs_browser
@pytest.mark.parametrize("key", ["alexnet-training", "googlenet-training"])
def test_the_training_totals_are_the_json_reports(browser, pages, key):
    path, report = pages[key]
    assert problems(browser.open(path)) == []
    t = report["training"]
    cells = browser.evaluate(
        "[...document.querySelector('#layers tfoot tr[data-totals=totals]').cells].map(c => [c.textContent, c.dataset.v || null])"
    )
    for column, name in TRAINING_COLUMNS.items():
        assert cells[column] == [f"{t[name]:,}", str(t[name])], name  # what a reader sees, and the exact key
    assert cells[ACTIVATIONS][1] == str(report["totals"]["activations"]["bytes"])  # the columns before stay where they were
    per_layer = {name: sum(layer["training"][name] for layer in report["layers"]) for name in TRAINING_COLUMNS.values()}
    assert per_layer == {name: t[name] for name in TRAINING_COLUMNS.values()}  # the layers add up to the totals
    if key == "googlenet-training":  # a training step runs the auxiliary heads: the inference row has no training cells
        inference = browser.evaluate(
            "[...document.querySelector('#layers tfoot tr[data-totals=inference_totals]').cells].map(c => c.textContent)"
        )
        assert [inference[c] for c in TRAINING_COLUMNS] == ["", "", ""]


@needs_browser
def test_sorting_by_the_training_columns(browser, pages):
    path, report = pages["alexnet-training"]
    browser.open(path)
    layers = report["layers"]
    for column, name in TRAINING_COLUMNS.items():
        click_heading(browser, column)
        assert visible(browser) == [layer["name"] for layer in sorted(layers, key=lambda layer: layer["training"][name])], name
        click_heading(browser, column)  # again: reversed (ties keep the network's order)
        assert visible(browser) == [layer["name"] for layer in sorted(layers, key=lambda layer: -layer["training"][name])], name


@needs_browser
def test_block_subtotals_of_the_training_columns(browser, pages):
    path, report = pages["googlenet-training"]
    browser.open(path)
    inside = [layer for layer in report["layers"] if "inception_4a" in layer["scopes"]]
    row = browser.evaluate("[...document.querySelector('tr[data-scope=inception_4a]').cells].map(c => c.dataset.v || null)")
    for column, name in TRAINING_COLUMNS.items():
        assert row[column] == str(sum(layer["training"][name] for layer in inside)), name
    # sorted by saved bytes, most first, inception_4a's branches keep their own order inside it
    click_heading(browser, SAVED)
    click_heading(browser, SAVED)
    branches = [name for name in visible(browser) if re.fullmatch(r"inception_4a\.branch\d", name)]
    saved = {b: sum(layer["training"]["saved_bytes"] for layer in inside if b in layer["scopes"]) for b in branches}
    assert len(branches) == 4 and branches == sorted(branches, key=lambda b: -saved[b])


def test_checkpointing_shows_what_it_saves_and_costs(tmp_path):
    args = [SPECS / "resnet18.yaml", "--training", "--checkpoint", "conv2_x"]
    path = tmp_path / "r.html"
    run("report", *args, "--format", "html", "-o", path)
    text, t = path.read_text(), json.loads(run("report", *args, "--format", "json"))["training"]
    assert terms(text)["recompute_macs"] == str(t["recompute_macs"]) == str(4 * 115_605_504)  # test_training's, by hand
    saves = t["saved_bytes_without_checkpoint"] - t["saved_bytes"]
    assert f"Checkpointing 1 block(s) (conv2_x) saves {saves:,} bytes" in text


def test_a_gallery_page_says_when_there_is_no_training_step(monkeypatch):
    from archcalc.gallery import entry
    from archcalc.html_report.build import gather, render
    from archcalc.ops import Op
    from archcalc.ops.activation import Tanh

    monkeypatch.setattr(Tanh, "training_rules", Op.training_rules)
    e = entry(SPECS / "lenet5.yaml", SPECS)
    text = render(gather(SPECS / "lenet5.yaml", e.analysis, e.depth, dot=e.dot, training=e.training, training_note=e.training_note), False)
    assert "<p>Training step not shown: --training: no training rules yet for &#x27;tanh&#x27;" in text
    assert "Saved (bytes)" not in text and 'id="figure-training"' not in text  # never a column of zeros
