# `make reports` rebuilds reports/ (every spec's report and diagram, and the index).
PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)

.PHONY: reports
reports:
	$(PYTHON) -m archcalc gallery
