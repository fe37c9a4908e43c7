#!/usr/bin/env bash
# Shared set-up: a virtual environment in .venv with the project and its dev tools.
#
#   source scripts/setup.sh     # in your shell: the venv's bin/ goes first on PATH
#
# Sourced by scripts/demo.sh and scripts/test.sh; safe to source from an interactive shell:
# the work runs in a subshell with its own error handling, so the caller's shell options
# (set -e, -u, pipefail) and variables are left alone; only PATH changes. Idempotent: the
# install runs again only when pyproject.toml changed. A failed install returns non-zero
# (and stops a calling script that runs under set -e) after one line on stderr.
_pipeline_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
(
  set -euo pipefail
  ROOT="$_pipeline_root"
  trap 'echo "error: scripts/setup.sh: setting up $ROOT/.venv failed (see above)" >&2' ERR
  PY="${PYTHON:-python3}"
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    # Debian/Ubuntu ship venv's pip bootstrap separately (python3-venv); install it as root
    if ! "$PY" -c 'import ensurepip' 2>/dev/null && [ "$(id -u)" = 0 ] \
       && command -v apt-get >/dev/null; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv) >/dev/null
    fi
    "$PY" -m venv "$ROOT/.venv"
  fi
  STAMP="$ROOT/.venv/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
  if [ ! -f "$STAMP" ]; then
    "$ROOT/.venv/bin/python" -m pip install --quiet --upgrade pip
    "$ROOT/.venv/bin/python" -m pip install --quiet -e "$ROOT[dev]"
    touch "$STAMP"
  fi
)
_pipeline_status=$?
if [ "$_pipeline_status" -eq 0 ]; then
  case ":$PATH:" in
    *":$_pipeline_root/.venv/bin:"*) ;;
    *) export PATH="$_pipeline_root/.venv/bin:$PATH" ;;
  esac
fi
unset _pipeline_root
# `return` when sourced, `exit` when run as `bash scripts/setup.sh`; eval expands the status
# first, so no variable of this file is left behind.
eval "unset _pipeline_status; return $_pipeline_status 2>/dev/null || exit $_pipeline_status"
