#!/usr/bin/env bash
# Set up emovit in ./.venv: PyTorch 2.13.0 first (the CPU build on these machines, so pip never
# reaches for a multi-GB CUDA build), then the package. `--dev` adds the test tools and openSMILE.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  "${pip[@]}" install "torch==${EMOVIT_TORCH_VERSION:-2.13.0}"
fi
"${pip[@]}" install -e ".${extras}"
