#!/usr/bin/env bash
# Shared set-up: a virtual environment in .venv with the project and its dev tools.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again (idempotent).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  "$PY" -m venv "$ROOT/.venv"
fi
STAMP="$ROOT/.venv/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  "$ROOT/.venv/bin/python" -m pip install --quiet --upgrade pip
  "$ROOT/.venv/bin/python" -m pip install --quiet -e "$ROOT[dev]"
  touch "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
