#!/usr/bin/env bash
# The suite's main job on one machine: installs what is missing, builds,
# starts redis-server and the three services (okr-planning, okr-tracking,
# okr-notify) on 127.0.0.1 with SQLite files in a data directory, loads the
# example plans through okrctl, records three weekly rounds of check-ins,
# shows the scored alignment trees, then runs the reminder job
# (okr-reminder-job, as the Kubernetes CronJob does) and shows the reminders
# it published to Redis (a live subscriber and the durable stream).
#
#   bash scripts/run-suite.sh                   # build, load, check in, remind, stop
#   bash scripts/run-suite.sh --keep-running    # leave the four processes running
#   bash scripts/run-suite.sh --fresh           # start over from an empty data dir
#   bash scripts/run-suite.sh --remind-at=2026-12-17T09:30:00-05:00
#                                               # run the reminders as of that instant
#
# Data lives in build/suite-data and is kept between runs: a second run
# replays what the first did (fixed request ids and check-in client keys), so
# nothing is created twice, and the reminder job finds its reminders already
# sent. OKR_BUILD_DIR=DIR builds in DIR instead of build/; OKR_DATA_DIR=DIR
# keeps the data there; --bin-dir=DIR uses binaries built elsewhere and skips
# setup and build (the test of this script does).
set -euo pipefail
cd "$(dirname "$0")/.."

keep_running=0
fresh=0
remind_at=""
prebuilt=""
for arg in "$@"; do
  case "$arg" in
    --keep-running) keep_running=1 ;;
    --fresh) fresh=1 ;;
    --remind-at=*) remind_at=${arg#--remind-at=} ;;
    --bin-dir=*) prebuilt=${arg#--bin-dir=} ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) printf 'run-suite.sh: unknown argument %s (try --help)\n' "$arg" >&2; exit 2 ;;
  esac
done
started_at=$(date +%s)

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# OKR_BUILD_DIR picks another build directory (default build/).
build=${OKR_BUILD_DIR:-build}
if [[ -n "$prebuilt" ]]; then
  bin=$(cd "$prebuilt" && pwd)
  for b in okr-planning okr-tracking okr-notify okr-reminder-job okrctl; do
    [[ -x "$bin/$b" ]] || fail "--bin-dir: $bin/$b is missing"
  done
else
  step "Checking packages (scripts/setup.sh)"
  bash scripts/setup.sh

  step "Building the services, okr-reminder-job and okrctl in $build/ (the first build takes a few minutes)"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  log=$build/run-suite-build.log
  # cmake prints "[ 42%] Building ..." lines: show the percentage as it moves
  # (in place on a terminal, every 10% otherwise); the full log goes to $log.
  progress() {
    local line pct last=-10
    while IFS= read -r line; do
      printf '%s\n' "$line" >>"$log"
      [[ "$line" =~ ^\[\ *([0-9]+)%\] ]] || continue
      pct=${BASH_REMATCH[1]}
      if [[ -t 1 ]]; then
        printf '\r  building: %3d%%' "$pct"
      elif ((pct >= last + 10)); then
        printf '  building: %3d%%\n' "$pct"
        last=$pct
      fi
    done
    [[ -t 1 ]] && printf '\r  building: done \n'
    return 0
  }
  : >"$log"
  if ! cmake --build "$build" --target okr-planning okr-tracking okr-notify okr-reminder-job okrctl \
      -j"$(nproc)" 2>&1 | progress; then
    tail -n 40 "$log"
    fail "build failed; full log: $log"
  fi
  bin=$PWD/$build/bin
fi

data=${OKR_DATA_DIR:-$build/suite-data}
if [[ $fresh -eq 1 ]]; then rm -rf "$data"; fi
mkdir -p "$data/redis"
data=$(cd "$data" && pwd)

# ---------------------------------------------------------------------------
# The services. Each is stopped (tracking first: it calls planning and Redis)
# when the script ends, unless --keep-running; Ctrl-C always stops them.
# ---------------------------------------------------------------------------
pids=()
# Stops what this script started, newest first, each by its pid.
stop_services() {
  local i pid
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[$i]}
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  pids=()
}
# On exit: stop them unless --keep-running asked to leave them up and the
# run succeeded.
on_exit() {
  local rc=$?
  if [[ $keep_running -eq 0 || $rc -ne 0 ]]; then stop_services; fi
}
trap on_exit EXIT
trap 'stop_services; exit 130' INT TERM

# The address a service logged in its "serving" line (it binds port 0 and
# the kernel chooses); waits up to 10 s and fails with the log otherwise.
logged_address() {
  local name=$1 pid=$2 logfile=$3 found=""
  for _ in $(seq 1 100); do
    found=$(grep -o '"address":"127\.0\.0\.1:[0-9]*"' "$logfile" 2>/dev/null \
              | head -n 1 | sed 's/.*"address":"\(.*\)"/\1/' || true)
    [[ -n "$found" ]] && break
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$logfile" >&2; fail "$name exited"; }
    sleep 0.1
  done
  [[ -n "$found" ]] || { tail -n 20 "$logfile" >&2; fail "$name did not report its address"; }
  echo "$found"
}

step "Starting redis-server, okr-planning, okr-tracking and okr-notify on 127.0.0.1"
# Redis cannot report a port it chose, so try free-looking ones until one
# answers PING from the server this script started.
redis_port=""
for _ in $(seq 1 20); do
  port=$((20000 + RANDOM % 40000))
  # Something already answers there: try another port.
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$data/redis" --daemonize no >"$data/redis.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    if [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == "PONG" ]]; then
      redis_port=$port
      break
    fi
    sleep 0.1
  done
  if [[ -n "$redis_port" ]]; then
    pids+=("$pid")
    redis_pid=$pid
    break
  fi
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
[[ -n "$redis_port" ]] || { tail -n 20 "$data/redis.log" >&2; fail "redis-server did not start"; }
echo "redis-server    127.0.0.1:$redis_port  (pid $redis_pid, no persistence, log $data/redis.log)"

# Local development: the services run with --auth=false (every caller may act
# for any organisation, named in okr-organisation-id), and say so in their logs.
echo "auth is OFF (--auth=false): local development only; see docs/operations.md for tokens"
"$bin/okr-planning" --auth=false --listen=127.0.0.1:0 --store="sqlite:$data/planning.db" \
  >"$data/planning.log" 2>&1 &
planning_pid=$!
pids+=("$planning_pid")
planning_addr=$(logged_address okr-planning "$planning_pid" "$data/planning.log")
echo "okr-planning    $planning_addr  (pid $planning_pid, store $data/planning.db, log $data/planning.log)"

"$bin/okr-tracking" --auth=false --listen=127.0.0.1:0 --store="sqlite:$data/tracking.db" \
  --redis="127.0.0.1:$redis_port" --planning_addr="$planning_addr" \
  >"$data/tracking.log" 2>&1 &
tracking_pid=$!
pids+=("$tracking_pid")
tracking_addr=$(logged_address okr-tracking "$tracking_pid" "$data/tracking.log")
echo "okr-tracking    $tracking_addr  (pid $tracking_pid, store $data/tracking.db, log $data/tracking.log)"

"$bin/okr-notify" --auth=false --listen=127.0.0.1:0 --store="sqlite:$data/notify.db" \
  --redis="127.0.0.1:$redis_port" --planning_addr="$planning_addr" \
  --tracking_addr="$tracking_addr" >"$data/notify.log" 2>&1 &
notify_pid=$!
pids+=("$notify_pid")
notify_addr=$(logged_address okr-notify "$notify_pid" "$data/notify.log")
echo "okr-notify      $notify_addr  (pid $notify_pid, store $data/notify.db, log $data/notify.log)"

export OKR_PLANNING_ADDR=$planning_addr OKR_TRACKING_ADDR=$tracking_addr OKR_NOTIFY_ADDR=$notify_addr
okrctl() { "$bin/okrctl" "$@"; }

# ---------------------------------------------------------------------------
# The current quarter. Tracking accepts check-ins only inside an ACTIVE cycle
# (and its grace days), on the real clock. The example plans put their
# quarterly objectives in FY2027-Q1 (Feb-Apr 2026); they are loaded into the
# fiscal quarter that contains today instead, so that today's check-ins
# count. Fiscal years start in February (FY2027 = Feb 2026 - Jan 2027).
# ---------------------------------------------------------------------------
tz=America/New_York
today=$(TZ=$tz date +%F)
year=$(TZ=$tz date +%Y)
month=$((10#$(TZ=$tz date +%m)))
fiscal_year=$((month >= 2 ? year + 1 : year))
quarter="FY${fiscal_year}-Q$(( ((month + 10) % 12) / 3 + 1 ))"

# One organisation per example plan, as the documents' companies would set
# themselves up: fiscal year from February, New York time, the small-company
# planning profile.
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
# The examples that get check-ins are loaded into the current fiscal year and
# quarter; the sales breakdown keeps its own cycles (a plan to read).
declare -A tracked=([retail-annual]=1 [customer-success-duality]=1 [customer-success-classic]=1)

slug() { tr 'A-Z ' 'a-z-' <<<"$1"; }

# Moves a cycle from PLANNING to ACTIVE (a no-op when it is already past it).
activate() {
  local org=$1 cycle=$2 state
  state=$(okrctl --org="$org" cycle show "$cycle" | awk 'NR == 2 { print $4 }')
  if [[ "$state" == "PLANNING" ]]; then
    okrctl --org="$org" cycle set-state "$cycle" active >/dev/null
  fi
}

for example in retail-annual customer-success-duality customer-success-classic sales-annual-quarterly; do
  org=$example
  step "Loading examples/$example.csv into organisation '$org'"
  # Fixed request ids: on a second run every create replays instead of
  # creating again (planning remembers what each request id did).
  okrctl --org="$org" org bootstrap "$org" --name="${names[$example]}" \
    --fiscal-start-month=2 --time-zone=$tz --profile=small -q --request-id="org-$org" >/dev/null
  okrctl --org="$org" cycle create-year 2027 -q --request-id="fy-2027" >/dev/null
  if [[ $fiscal_year -ne 2027 ]]; then
    okrctl --org="$org" cycle create-year "$fiscal_year" -q --request-id="fy-$fiscal_year" >/dev/null
  fi
  IFS='|' read -r -a org_people <<<"${people[$example]}"
  for person in "${org_people[@]}"; do
    email="$(tr 'A-Z ' 'a-z.' <<<"$person")@$org.example"
    okrctl --org="$org" person create "$person" --email="$email" -q \
      --request-id="person-$(slug "$person")" >/dev/null
  done
  IFS='|' read -r -a org_teams <<<"${teams[$example]}"
  for team in "${org_teams[@]}"; do
    okrctl --org="$org" team create "$team" -q --request-id="team-$(slug "$team")" >/dev/null
  done
  echo "FY2027 with its quarters, ${#org_people[@]} people and ${#org_teams[@]} teams"
  csv="examples/$example.csv"
  if [[ -n "${tracked[$example]:-}" ]]; then
    csv="$data/$example.csv"
    sed -e "s/^FY2027-Q1,/$quarter,/" -e "s/^FY2027,/FY$fiscal_year,/" \
      "examples/$example.csv" >"$csv"
    echo "(quarterly objectives moved from FY2027-Q1 to $quarter, the quarter of today, $today)"
  fi
  okrctl --org="$org" import "$csv" --request-id="import-$example-$quarter"
  if [[ -n "${tracked[$example]:-}" ]]; then
    activate "$org" "FY$fiscal_year"
    activate "$org" "$quarter"
    # Only PUBLISHED objectives take check-ins; a CSV row may say DRAFT.
    drafts=$(okrctl --org="$org" objective list --state=draft | awk 'NR > 1 { print $1 }')
    for id in $drafts; do okrctl --org="$org" objective update "$id" --state=published >/dev/null; done
    echo "cycles FY$fiscal_year and $quarter are ACTIVE; $(wc -w <<<"$drafts") draft objective(s) published"
  fi
  step "Alignment tree of '$org'"
  okrctl --org="$org" tree
  step "Lint findings for '$org'"
  okrctl --org="$org" lint --max=8 || true
done

step "Annual planning timeline for FY2027 (organisation 'retail-annual')"
okrctl --org=retail-annual timeline --year=2027

# ---------------------------------------------------------------------------
# Check-ins: three weekly rounds in the current quarter, each at noon New York
# time one, two and three weeks after the quarter's start (rounds still in
# the future are left out; early in a quarter, one round at the current
# time). The values head for the examples' snapshot columns. Every check-in
# has a fixed client key, so a second run replays instead of recording again.
# ---------------------------------------------------------------------------
quarter_start=$(okrctl --org=retail-annual cycle show "$quarter" | awk 'NR == 2 { print $5 }')
now_epoch=$(date +%s)
round_times=()
for week in 1 2 3; do
  day=$(TZ=$tz date -d "$quarter_start + $((7 * week)) days" +%F)
  at_epoch=$(TZ=$tz date -d "$day 12:00" +%s)
  if ((at_epoch <= now_epoch - 60)); then
    round_times+=("$(TZ=$tz date -d "@$at_epoch" +%Y-%m-%dT%H:%M:%S%:z)")
  fi
done
if ((${#round_times[@]} == 0)); then round_times=(now); fi
rounds=${#round_times[@]}

# KR ids by title, from one `kr list` per organisation (its table ends with
# the title; the examples' titles hold no double spaces and none is archived).
declare -A kr_ids=()
load_key_results() {
  local org=$1
  kr_ids=()
  while IFS=$'\t' read -r id title; do
    kr_ids["$title"]=$id
  done < <(okrctl --org="$org" kr list | awk 'NR > 1 {
      # The title is the last column: everything after the owner.
      id = $1; sub(/^.*  /, ""); printf "%s\t%s\n", id, $0 }')
}

# checkin ORG AUTHOR "KR title" V1 V2 V3: one value (or done=true|false) per
# round; the last rounds' values are used when fewer rounds fit. With
# show_last=1 the last round prints okrctl's own report of the check-in.
show_last=0
checkin() {
  local org=$1 author=$2 title=$3
  shift 3
  local values=("$@") id=${kr_ids[$title]:-} round value args at
  [[ -n "$id" ]] || fail "no key result titled '$title' in '$org'"
  for ((round = 0; round < rounds; round++)); do
    value=${values[$((${#values[@]} - rounds + round))]}
    at=${round_times[$round]}
    args=(--org="$org" checkin "$id" --author="$author" --key="suite-$((round + 1))")
    [[ "$at" != now ]] && args+=(--time="$at")
    case "$value" in
      done=*) args+=(--done="${value#done=}") ;;
      *) args+=(--value="$value") ;;
    esac
    printf '  %-26s %-13s %-62.62s %s\n' "${at/now/just now}" "$author" "$title" "$value"
    if [[ $show_last -eq 1 && $round -eq $((rounds - 1)) ]]; then
      printf '\nThe last one as okrctl reports it (on a rerun: replayed, nothing recorded):\n'
      okrctl "${args[@]}" | sed 's/^/    /'
      echo
    else
      okrctl "${args[@]}" -q >/dev/null
    fi
  done
}

show_scores() {
  local org=$1 cycle=$2
  okrctl --org="$org" tree "$cycle" --scores
}

step "Scores of 'customer-success-duality' in $quarter before this run's check-ins"
show_scores customer-success-duality "$quarter"
step "Check-ins for 'customer-success-duality' (Duality: Nick's KRs feed Jane's, Jane's the company's)"
org=customer-success-duality
load_key_results "$org"
checkin $org Nick "Reduce customer response time from 72 hours to <24 hours" 60 48 40
checkin $org Nick "Increase total amount of completed QBRs from 88% to 100%" 90 92 94
checkin $org Nick "Develop an action plan with 3 improvements and implement this quarter" 0 1 1
checkin $org Jane "Increase customer engagement from 1x a month to 2x a month" 1.1 1.3 1.4
show_last=1 checkin $org Jane "Increase NPS score from 7 to 8.5" 7.2 7.4 7.6
step "Scores of 'customer-success-duality' in $quarter after the check-ins"
show_scores customer-success-duality "$quarter"

step "Scores of 'customer-success-classic' in $quarter before this run's check-ins"
show_scores customer-success-classic "$quarter"
step "Check-ins for 'customer-success-classic' (Classic: objectives pool their KRs and children)"
org=customer-success-classic
load_key_results "$org"
checkin $org Jane "Identify top 3 drivers causing friction and implement corrective action" \
  done=false done=false done=true
checkin $org Jane "Reduce customer response time to <24 hours" 50 38 30
checkin $org Jane "Resolve 90% open cases" 74 78 82
checkin $org Nick "Deploy new onboarding and implementation process to 100% of new customers" \
  20 40 55
checkin $org Nick "Implement new customer community with 65% engagement rate" 10 20 30
checkin $org Nick "Make customer office hour training sessions available 4x week" 2 3 4
checkin $org "Alex Rivera" "Maintain an NPS score greater than 8" 7.5 7.7 7.8
step "Scores of 'customer-success-classic' in $quarter after the check-ins"
show_scores customer-success-classic "$quarter"

step "Scores of 'retail-annual' in FY$fiscal_year before this run's check-ins"
show_scores retail-annual "FY$fiscal_year"
step "Check-ins for 'retail-annual' (company objectives and their key results)"
org=retail-annual
load_key_results "$org"
checkin $org "Maya Chen" "Exclusive tie-up deals with 2 top brands to draw new footfalls to the store" \
  0 1 1
checkin $org "Maya Chen" \
  "Become the anchor store in 10 mall complexes (# of current anchor stores: 100) by end of Q1" \
  101 103 104
checkin $org "Maya Chen" "Train 1000 in-store sales staff to deliver best in-store experience" \
  150 300 420
checkin $org "Maya Chen" \
  "Reduce average out-of-stock days in key categories (E.g.: Grocery) from 5 days to 1 day" \
  4.5 4 3.5
checkin $org "Daniel Ortiz" "Increase gross margin from 38% to 42%" 38.5 39 39.2
checkin $org "Lena Fischer" "Maintain a social media sentiment score of at least 80" 78 80 81
checkin $org "Tom Becker" "Sign the last-mile delivery partner contract" \
  done=false done=true done=true
step "Scores of 'retail-annual' in FY$fiscal_year after the check-ins"
show_scores retail-annual "FY$fiscal_year"

step "How a company score is computed (retail-annual)"
company=$(okrctl --org=retail-annual objective list --level=company \
            | awk '/Reduce churn of existing customers/ { print $1; exit }')
okrctl --org=retail-annual score explain --objective="$company"

# ---------------------------------------------------------------------------
# Reminders: one run of the job a Kubernetes CronJob runs, as of --remind-at
# (default: now). A live listener subscribes to every organisation's channel
# first; durable consumers would read the organisations' streams instead.
# ---------------------------------------------------------------------------
orgs=(retail-annual customer-success-duality customer-success-classic sales-annual-quarterly)
step "A live listener on the reminder channels (redis-cli PSUBSCRIBE 'okr:{*}:reminders')"
redis-cli -h 127.0.0.1 -p "$redis_port" PSUBSCRIBE 'okr:{*}:reminders' >"$data/listener.txt" 2>&1 &
listener_pid=$!
pids+=("$listener_pid")
for _ in $(seq 1 50); do
  [[ "$(redis-cli -h 127.0.0.1 -p "$redis_port" PUBSUB NUMPAT)" -ge 1 ]] && break
  sleep 0.1
done
echo "listening (pid $listener_pid, output $data/listener.txt)"

job() {
  local args=(--notify_addr="$notify_addr" --organisations="$(IFS=,; echo "${orgs[*]}")")
  [[ -n "$remind_at" ]] && args+=(--now="$remind_at")
  "$bin/okr-reminder-job" "${args[@]}"
}
step "Running the reminder job (okr-reminder-job) as of ${remind_at:-now}"
job | tee "$data/reminder-job-1.json"

for org in "${orgs[@]}"; do
  step "Reminders published for '$org'"
  okrctl --org="$org" reminders list --limit=12
done

step "Running the reminder job again for the same instant: nothing is sent twice"
job | tee "$data/reminder-job-2.json"

# What reached Redis: the live listener's messages, the streams' entries.
sleep 0.3
heard=$(grep -c '^pmessage$' "$data/listener.txt" || true)
streamed=0
for org in "${orgs[@]}"; do
  n=$(redis-cli -h 127.0.0.1 -p "$redis_port" XLEN "okr:{$org}:reminders")
  streamed=$((streamed + n))
done
kill -TERM "$listener_pid" 2>/dev/null || true
# Each job line has the organisation's total first, then the counts per kind.
published=0
while IFS= read -r line; do
  n=$(grep -o '"published":[0-9]*' <<<"$line" | head -n 1 | cut -d: -f2)
  published=$((published + ${n:-0}))
done <"$data/reminder-job-1.json"

step "Summary"
printf '  %-16s %s\n' \
  "okr-planning" "$planning_addr" \
  "okr-tracking" "$tracking_addr (rollups cached in Redis)" \
  "okr-notify" "$notify_addr" \
  "redis-server" "127.0.0.1:$redis_port" \
  "organisations" "${#orgs[@]}, loaded from examples/*.csv" \
  "check-ins" "$rounds weekly round(s) in $quarter" \
  "reminders" "published by the first job run: $published; heard live: $heard; in the streams: $streamed" \
  "data" "$data" \
  "took" "$(( $(date +%s) - started_at )) s"

step "Done"
if [[ $keep_running -eq 1 ]]; then
  echo "redis-server, okr-planning, okr-tracking and okr-notify keep running:"
  echo "  export OKR_PLANNING_ADDR=$planning_addr OKR_TRACKING_ADDR=$tracking_addr OKR_NOTIFY_ADDR=$notify_addr"
  echo "  $bin/okrctl --org=customer-success-duality tree $quarter --scores"
  echo "  $bin/okrctl --org=retail-annual reminders list"
  echo "  $bin/okrctl --org=retail-annual reminders watch"
  echo "  stop them: kill ${pids[*]}"
else
  echo "Services stopped; data kept in $data (a rerun replays it; --fresh starts over)."
  echo "Run with --keep-running to leave them up and explore with $bin/okrctl."
fi
