#!/usr/bin/env bash
# The demo: the two studies of config/studies/ side by side (local folders and SQLite under
# data/): a panel study (Qualtrics-style exports) and a session study (platform JSON
# records, consent rulings, video lists). Generates a week of raw input for each, delivers
# it night by night, runs each study's nightly job once per night (05:00 Pacific), then
# shows what each study published. Sets everything up on a fresh machine (scripts/setup.sh).
# Starts from scratch every time: data/ is removed first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"

# The session study's hashed-ID salt (session.salt_env in config/studies/session.yaml). In
# production it is a secret UUID kept out of the repository; fixed here so the demo's
# hashed IDs are the same on every machine.
export DEMO_STUDY_SALT=5b0c3f1e-8d2a-4c67-9e41-0a7d2b9c6f13
# The runs are recorded in a Dagster instance of their own (runs and day partitions show
# in `dagster dev` with this DAGSTER_HOME), never in the caller's.
export DAGSTER_HOME="$ROOT/data/dagster_home"

rm -rf data
mkdir -p data/panel/incoming data/panel/drop data/session/incoming data/session/drop "$DAGSTER_HOME"
cp deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml"
python -m pipeline synth --kind panel --out data/panel/incoming \
  --start 2021-06-01 --days 7 --per-day 2000 --seed 7
python -m pipeline synth --kind session --out data/session/incoming \
  --start 2021-06-01 --days 7 --per-day 30 --seed 7

# Night N (05:00 Pacific = 12:00 UTC on 2021-06-N): the panel exports delivered that night
# (export_2021_06_N_*.csv) and the session files of the day before (its response records
# and video list, and the consent rulings made that day) reach the drops, then each study
# runs. Every run prints one summary line.
for night in 02 03 04 05 06 07 08; do
  day="2021-06-$(printf '%02d' $((10#$night - 1)))"
  cp data/panel/incoming/export_2021_06_"${night}"_* data/panel/drop/ 2>/dev/null || true
  cp data/session/incoming/*_"${day//-/_}".* data/session/drop/ 2>/dev/null || true
  clock="2021-06-${night}T12:00:00Z"
  echo "== night of 2021-06-${night} (--as-of $clock)"
  for study in panel session; do
    # sed reads all output (no broken pipe): the first line is the run's summary
    printf '  %-8s ' "$study:"
    python -m pipeline run --config "config/studies/$study.yaml" --as-of "$clock" | sed -n 1p
  done
done

echo
echo "== panel study: published files (data/panel/publish) other than the daily versions:"
ls -l data/panel/publish | grep -v -e '_recordedby_' -e '^total'
echo "   daily files: $(find data/panel/publish -maxdepth 1 -name '*_recordedby_*' | wc -l);" \
  "versions of day 2021-06-03 (one per night; 2 links = re-issued by hard link, same bytes):"
ls -l data/panel/publish/*_2021_06_03_recordedby_* | sed 's|data/panel/publish/||'
echo "   CID lists for the weighting partner (data/panel/cids): $(ls data/panel/cids | wc -l)"
echo "   subfolders: $(cd data/panel/publish && for d in cumulative monthly docs runs parquet; do
  [ -d "$d" ] && printf '%s/ (%s files) ' "$d" "$(find "$d" -type f | wc -l)"; done)"
echo
echo "== panel study: OUTAGES.txt (head):"
head -n 12 data/panel/publish/OUTAGES.txt
echo
echo "== panel study: newest version of every day (python -m pipeline latest data/panel/publish):"
python -m pipeline latest data/panel/publish --out data/panel/latest.csv
head -n 3 data/panel/latest.csv | cut -c1-120
echo
echo "== session study: published files (data/session/publish):"
ls -l data/session/publish
echo
echo "== session study: OUTAGES.txt (head):"
head -n 12 data/session/publish/OUTAGES.txt
echo
echo "== session study: Physics-Study_all-responses.csv, a few columns of the first rows:"
python - <<'PY'
import csv
with open("data/session/publish/Physics-Study_all-responses.csv", newline="") as f:
    rows = list(csv.DictReader(f))
cols = ["response__uuid", "response__date_created", "consent__ruling",
        "participant__hashed_id", "child__hashed_id", "child__age_rounded"]
print(",".join(cols))
for row in rows[:3]:
    print(",".join(row[c] for c in cols))
print(f"... {len(rows)} published responses (consent accepted, no previews)")
PY
echo
echo "== integrity: sha256sum -c on every SHA256SUMS (one per folder; parquet/'s in the root):"
for study in panel session; do
  printf '  %-8s ' "$study:"
  (cd "data/$study/publish" && sha256sum --quiet -c SHA256SUMS \
    && for sums in */SHA256SUMS; do (cd "$(dirname "$sums")" && sha256sum --quiet -c SHA256SUMS); done \
    && { [ ! -f parquet.SHA256SUMS ] || sha256sum --quiet -c parquet.SHA256SUMS; } \
    && echo "all files OK")
done
echo
echo "Done. To look at both studies in the Dagster UI (these runs included):"
echo "  source scripts/setup.sh; export DAGSTER_HOME=$DAGSTER_HOME DEMO_STUDY_SALT=$DEMO_STUDY_SALT"
echo "  dagster dev    # then open http://127.0.0.1:3000"
