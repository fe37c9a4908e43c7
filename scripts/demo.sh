#!/usr/bin/env bash
# Demo on the embedded default (local folders + SQLite): generate sample exports for a week,
# run the nightly job once per night, then show what was published.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
rm -rf data
mkdir -p data/incoming data/drop
python -m pipeline synth --kind panel --out data/incoming --start 2021-06-01 --days 7 --per-day 2000 --seed 7
# Deliver each night's exports to the drop, then run that night (05:00 Pacific = 12:00 UTC).
for night in 02 03 04 05 06 07 08; do
  cp data/incoming/*_2021_06_${night}_* data/drop/ 2>/dev/null || true
  echo "== night of 2021-06-${night}"
  python -m pipeline run --config config/panel.yaml --as-of "2021-06-${night}T12:00:00Z" | sed -n 1p  # sed reads all output: no broken pipe
done
echo
echo "== published files (data/publish):"
ls -l data/publish
echo
echo "== OUTAGES.txt:"
cat data/publish/OUTAGES.txt
echo
echo "== newest version of every day (python -m pipeline latest data/publish), first rows:"
python -m pipeline latest data/publish --out data/latest.csv
head -n 3 data/latest.csv | cut -c1-160
