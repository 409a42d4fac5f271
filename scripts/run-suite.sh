#!/usr/bin/env bash
# The suite's main job on one machine: installs what is missing, builds,
# starts okr-planning on loopback with its embedded SQLite store, loads the
# example plans into it through okrctl, shows each one's alignment tree and
# lint findings, then scores them with the model library.
#
# Tracking (check-ins, scores over gRPC) and notify (reminders) join as their
# issues land; until then the scores come from tools/okr-demo.
#
#   bash scripts/run-suite.sh                     # build, load, show, stop
#   bash scripts/run-suite.sh --keep-running      # leave okr-planning running
#   bash scripts/run-suite.sh --now=2026-11-28T09:00:00Z   # score at another moment
#
# Data lives in build/suite-data (recreated on every run).
set -euo pipefail
cd "$(dirname "$0")/.."

keep_running=0
demo_args=()
for arg in "$@"; do
  case "$arg" in
    --keep-running) keep_running=1 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) demo_args+=("$arg") ;;
  esac
done

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

step "Checking packages (scripts/setup.sh)"
bash scripts/setup.sh

step "Building okr-planning, okrctl and okr-demo (build/; the first build takes a few minutes)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
mkdir -p build
log=build/run-suite-build.log
if ! cmake --build build --target okr-planning okrctl okr-demo -j"$(nproc)" >"$log" 2>&1; then
  tail -n 40 "$log"
  fail "build failed; full log: $log"
fi
bin=$PWD/build/bin

data=build/suite-data
rm -rf "$data"
mkdir -p "$data"

step "Starting okr-planning on 127.0.0.1 (SQLite store: $data/planning.db)"
"$bin/okr-planning" --listen=127.0.0.1:0 --store="sqlite:$data/planning.db" \
  >"$data/planning.log" 2>&1 &
planning_pid=$!
stop_planning() {
  if kill -0 "$planning_pid" 2>/dev/null; then
    kill -TERM "$planning_pid" 2>/dev/null || true
    wait "$planning_pid" 2>/dev/null || true
  fi
}
if [[ $keep_running -eq 0 ]]; then
  trap stop_planning EXIT
fi
trap 'stop_planning; exit 130' INT TERM

# The service logs the address it bound (port 0 lets the kernel choose).
addr=""
for _ in $(seq 1 100); do
  addr=$(grep -o '"address":"127\.0\.0\.1:[0-9]*"' "$data/planning.log" 2>/dev/null \
           | head -n 1 | sed 's/.*"address":"\(.*\)"/\1/' || true)
  [[ -n "$addr" ]] && break
  kill -0 "$planning_pid" 2>/dev/null || { cat "$data/planning.log"; fail "okr-planning exited"; }
  sleep 0.1
done
[[ -n "$addr" ]] || { cat "$data/planning.log"; fail "okr-planning did not report its address"; }
export OKR_PLANNING_ADDR=$addr
okrctl() { "$bin/okrctl" "$@"; }
echo "okr-planning serving on $addr (pid $planning_pid, log $data/planning.log)"

# One organisation per example plan, as the documents' companies would set
# themselves up: fiscal year from February (FY2027 = Feb 2026 - Jan 2027),
# New York time, the small-company planning profile.
declare -A names=(
  [retail-annual]="Retail Co. (annual plan)"
  [customer-success-duality]="Customer success cascade (Duality)"
  [customer-success-classic]="Customer success cascade (Classic)"
  [sales-annual-quarterly]="Sales department (annual to quarterly)"
)
# Import maps owners and teams to the organisation's directory by name, so
# each organisation first gets the people and teams its plan names (as an HR
# sync would provide them).
declare -A people=(
  [retail-annual]="Maya Chen|Daniel Ortiz|Lena Fischer|Priya Nair|Sam Okafor|Tom Becker"
  [customer-success-duality]="Alex Rivera|Jane|Nick"
  [customer-success-classic]="Alex Rivera|Jane|Nick"
  [sales-annual-quarterly]="Li Wei"
)
declare -A teams=(
  [retail-annual]="Leadership|In-Store Sales|Finance|Marketing|Merchandising|People"
  [customer-success-duality]="Leadership|Customer Success"
  [customer-success-classic]="Leadership|Customer Success"
  [sales-annual-quarterly]="Sales"
)
for example in retail-annual customer-success-duality customer-success-classic sales-annual-quarterly; do
  org=$example
  step "Loading examples/$example.csv into organisation '$org'"
  okrctl --org="$org" org bootstrap "$org" --name="${names[$example]}" \
    --fiscal-start-month=2 --time-zone=America/New_York --profile=small -q >/dev/null
  okrctl --org="$org" cycle create-year 2027 -q >/dev/null
  IFS='|' read -r -a org_people <<<"${people[$example]}"
  for person in "${org_people[@]}"; do
    email="$(tr 'A-Z ' 'a-z.' <<<"$person")@$org.example"
    okrctl --org="$org" person create "$person" --email="$email" -q >/dev/null
  done
  IFS='|' read -r -a org_teams <<<"${teams[$example]}"
  for team in "${org_teams[@]}"; do
    okrctl --org="$org" team create "$team" -q >/dev/null
  done
  echo "created FY2027 with its quarters, ${#org_people[@]} people and ${#org_teams[@]} teams"
  okrctl --org="$org" import "examples/$example.csv"
  step "Alignment tree of '$org'"
  okrctl --org="$org" tree
  step "Lint findings for '$org'"
  okrctl --org="$org" lint --max=8 || true
done

step "Annual planning timeline for FY2027 (organisation 'retail-annual')"
okrctl --org=retail-annual timeline --year=2027

# The example plans' current values are a snapshot taken in the middle of
# FY2027's first quarter, so score them at that moment unless told otherwise.
if [[ " ${demo_args[*]-} " != *" --now="* ]]; then
  demo_args=(--now=2026-03-16T09:00:00-04:00 "${demo_args[@]}")
fi
step "Scores of the example plans (model library; the tracking service takes over next)"
"$bin/okr-demo" --examples_dir=examples --max_findings=0 "${demo_args[@]}"

step "Done"
if [[ $keep_running -eq 1 ]]; then
  echo "okr-planning keeps running on $addr (pid $planning_pid)."
  echo "  try:  OKR_PLANNING_ADDR=$addr build/bin/okrctl --org=retail-annual tree"
  echo "  stop: kill $planning_pid"
else
  echo "okr-planning stopped. Run with --keep-running to leave it up and explore with build/bin/okrctl."
fi
