# Small helpers that keep each folder's CMakeLists.txt a short list of its targets.

# okr_library(NAME SRCS ... DEPS ...): a static library rooted at the repository
# top, so headers are included as "common/scoring.h".
function(okr_library NAME)
  cmake_parse_arguments(L "" "" "SRCS;DEPS" ${ARGN})
  add_library(${NAME} STATIC ${L_SRCS})
  target_include_directories(${NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${NAME} PUBLIC ${L_DEPS})
endfunction()

# okr_test(NAME SRCS ... DEPS ... LABELS label [tsan] [TIMEOUT s]): a GoogleTest
# executable whose cases CTest discovers one by one, each carrying the label and
# OKR_BIN_DIR=<build>/bin in their environment. `tsan` puts the test in the
# ThreadSanitizer build (OKR_TSAN), which holds only such tests.
function(okr_test NAME)
  cmake_parse_arguments(T "" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  # The ThreadSanitizer build builds and runs only the tests labelled tsan; the
  # others stay declared (other targets may depend on them) but are left out.
  set(excluded "")
  if(OKR_TSAN AND NOT "tsan" IN_LIST T_LABELS)
    set(excluded EXCLUDE_FROM_ALL)
  endif()
  add_executable(${NAME} ${excluded} ${T_SRCS})
  target_include_directories(${NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${NAME} PRIVATE ${T_DEPS} GTest::gmock GTest::gtest GTest::gtest_main)
  if(OKR_TSAN)
    target_link_libraries(${NAME} PRIVATE okr_tsan_absl)
    if(NOT excluded)
      add_dependencies(okr_tsan_tests ${NAME})
    endif()
  endif()
  if(excluded)
    return()
  endif()
  # `tsan` only selects what the ThreadSanitizer build holds. CTest gets one label:
  # gtest_discover_tests splits a list-valued property, so a second label would be
  # read as a property name and swallow TIMEOUT and ENVIRONMENT.
  list(REMOVE_ITEM T_LABELS tsan)
  list(LENGTH T_LABELS label_count)
  if(NOT label_count EQUAL 1)
    message(FATAL_ERROR "okr_test(${NAME}): give exactly one CTest label (plus tsan), got '${T_LABELS}'")
  endif()
  gtest_discover_tests(${NAME}
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
               ENVIRONMENT "OKR_BIN_DIR=${CMAKE_RUNTIME_OUTPUT_DIRECTORY}")
  # gtest_discover_tests splits a list-valued ENVIRONMENT, so only one variable
  # travels that way; tests/support falls back to compile-time defaults for both.
endfunction()
