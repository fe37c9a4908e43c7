#!/usr/bin/env bash
# The whole test suite: installs what it needs (venv, openssh-server), lints, runs pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -x /usr/sbin/sshd ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server) >/dev/null
  else
    echo "note: /usr/sbin/sshd missing and cannot be installed; SFTP tests will skip" >&2
  fi
fi
if [ -n "${PIPELINE_REQUIRE_SERVICES:-}" ] && command -v pg_isready >/dev/null \
   && ! pg_isready -h 127.0.0.1 -p 5432 -q && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
fi
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
ruff check .
ruff format --check .
set +e
python -m pytest -q "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$status"
