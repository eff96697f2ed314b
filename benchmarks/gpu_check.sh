#!/usr/bin/env bash
# Prove `archcalc run --device cuda` on a GPU machine, in one call (issue 18):
#   bash benchmarks/gpu_check.sh [--dry-run] [--budget-s S]      results in $OUT (or ./gpu_check_out)
#
# Set-up there: a Python with a CUDA build of torch and torchvision. The lent H200 machine has
# one (python3, torch 2.11, torchvision 0.26) but lacks pydantic and the graphviz package, and
# cannot download: carry them as wheels in .whl/ (git-ignored), made here with
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     pydantic pydantic-core annotated-types typing-inspection graphviz
# and name `.whl` in the device tool's `carry`. Elsewhere, a machine with network access gets
# the CUDA build with `pip install torch torchvision` when its torch cannot see a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/archcalc-site .whl/*.whl
  export PYTHONPATH=/tmp/archcalc-site${PYTHONPATH:+:$PYTHONPATH}
fi
if [[ " $* " != *" --dry-run "* ]] && ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "gpu_check: this Python's torch sees no GPU; installing a CUDA build of torch and torchvision" >&2
  "$PY" -m pip install -q torch torchvision
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
exec "$PY" benchmarks/gpu_check.py --out "${OUT:-gpu_check_out}" "$@"
