# cmake -DFUZZER=bin -DCORPUS=dir -DWORK=dir -DSECONDS=n -P run_fuzzer.cmake
#
# Runs one libFuzzer target for SECONDS over a fresh copy of its committed
# corpus in WORK (the source tree is never written), with a memory and a
# per-input time limit. Fails when the fuzzer finds a crash, leak, timeout
# or sanitizer report; the input is then kept as WORK/artifacts/crash-*,
# to be fixed and added to the corpus.
foreach(var FUZZER CORPUS WORK SECONDS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: -D${var}=... is required")
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK}/corpus)
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(GLOB seeds ${CORPUS}/*)
if(seeds)
  file(COPY ${seeds} DESTINATION ${WORK}/corpus)
endif()

execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -rss_limit_mb=2560 -timeout=30
          -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/ ${WORK}/corpus
  RESULT_VARIABLE result)
file(REMOVE_RECURSE ${WORK}/corpus)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${result}); crashing input in ${WORK}/artifacts/")
endif()
