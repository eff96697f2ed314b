"""The HTML report: one self-contained page per network (``archcalc report --format html``,
and the gallery's ``reports/NAME.html``).

``build.py`` gathers what a page shows from a spec (the analyses, the growth with the input
size, the figures' data, the diagram's DOT) and draws it; ``page.py`` writes the markup,
``table.py`` the per-layer table, and ``page.css`` / ``page.js`` are inlined into every page;
``gallery_pages.py`` is the gallery's part.
"""
