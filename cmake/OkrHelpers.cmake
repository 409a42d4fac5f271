# Small helpers that keep each folder's CMakeLists.txt a short list of its targets.

# okr_library(NAME SRCS ... DEPS ...): a static library rooted at the repository
# top, so headers are included as "common/scoring.h".
function(okr_library NAME)
  cmake_parse_arguments(L "" "" "SRCS;DEPS" ${ARGN})
  add_library(${NAME} STATIC ${L_SRCS})
  target_include_directories(${NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${NAME} PUBLIC ${L_DEPS})
endfunction()

# okr_test(NAME SRCS ... DEPS ... LABELS ...): a GoogleTest executable whose
# cases CTest discovers one by one, each carrying the given labels and
# OKR_BIN_DIR=<build>/bin in their environment.
function(okr_test NAME)
  cmake_parse_arguments(T "" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${NAME} ${T_SRCS})
  target_include_directories(${NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${NAME} PRIVATE ${T_DEPS} GTest::gmock GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${NAME}
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
               ENVIRONMENT "OKR_BIN_DIR=${CMAKE_RUNTIME_OUTPUT_DIRECTORY}")
  # gtest_discover_tests splits a list-valued ENVIRONMENT, so only one variable
  # travels that way; tests/support falls back to compile-time defaults for both.
endfunction()
