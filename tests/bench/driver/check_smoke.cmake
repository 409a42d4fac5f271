# Runs `okr-bench --size=smoke` and checks that it succeeded (its correctness
# checks passed) and that the table has a row for every scenario of issue 7.
# Usage: cmake -DOKR_BENCH=<path> -DOUT=<table.md> -P check_smoke.cmake
if(NOT OKR_BENCH OR NOT OUT)
  message(FATAL_ERROR "usage: cmake -DOKR_BENCH=<okr-bench> -DOUT=<table.md> -P check_smoke.cmake")
endif()
get_filename_component(out_dir "${OUT}" DIRECTORY)
set(json "${out_dir}/bench-smoke.json")
file(REMOVE "${OUT}" "${json}")
execute_process(
  COMMAND "${OKR_BENCH}" --size=smoke "--out=${OUT}" "--json_out=${json}"
  RESULT_VARIABLE result
  OUTPUT_VARIABLE stdout
  ERROR_VARIABLE stderr)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "okr-bench --size=smoke failed (${result}):\n${stdout}\n${stderr}")
endif()
file(READ "${OUT}" table)
# One pattern per row the table must have (the issue's scenario list).
set(required
  "a. baseline: Empty QPS @32"
  "a. baseline: Empty p99.9 @1"
  "a. baseline: PoolEmpty p99 @32"
  "load: large organisation"
  "load: check-ins into the large organisation"
  "b. cached read: GetObjectiveScore QPS @32"
  "b. cached read: GetObjectiveScore p99 @32"
  "b. cached read: GetObjectiveScore p50 @1"
  "b. cached read: GetKeyResultScore QPS @32"
  "c. durable check-in (default): RecordCheckIn QPS @32"
  "c. durable check-in (power-loss): RecordCheckIn QPS @32"
  "d. check-in p50 @1, "
  "d. check-in QPS @32, "
  "e. scored tree ("
  "): GetScoredTree p50 @1"
  "): GetScoredTree QPS @4"
  "f. cold rebuild: RebuildRollups wall time"
  "f. restart okr-tracking to first GetObjectiveScore"
  "g. reminders: RunDueReminders wall time"
  "g. reminders: published"
  "g. reminders: rerun published"
  "h. RSS idle: okr-planning"
  "h. RSS idle: okr-tracking"
  "h. RSS idle: okr-notify"
  "h. RSS loaded: okr-tracking"
  "i. start to SERVING: okr-planning"
  "i. start to SERVING: okr-tracking"
  "i. start to SERVING: okr-notify")
set(missing "")
foreach(row IN LISTS required)
  string(FIND "${table}" "${row}" at)
  if(at EQUAL -1)
    list(APPEND missing "${row}")
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "rows missing from the smoke table: ${missing}\n${table}")
endif()
# Smoke runs give no verdicts: every target cell says "smoke".
string(FIND "${table}" "| yes |" yes_at)
string(FIND "${table}" "| **no** |" no_at)
if(NOT yes_at EQUAL -1 OR NOT no_at EQUAL -1)
  message(FATAL_ERROR "a smoke table must not judge targets:\n${table}")
endif()
if(NOT EXISTS "${json}")
  message(FATAL_ERROR "okr-bench wrote no ${json}")
endif()
message(STATUS "okr-bench smoke table complete")
