# Small helpers so each directory's CMakeLists.txt reads like a manifest.
#
#   skillsd_cc_library(NAME name SRCS a.cc b.cc [HDRS a.h] [DEPS target...] [PUBLIC_DEPS target...])
#   skillsd_cc_binary(NAME skillsd-foo SRCS foo_main.cc DEPS ...)       -> build/bin/skillsd-foo
#   skillsd_cc_test(NAME foo_test SRCS foo_test.cc DEPS ... [LABELS ...] [TIMEOUT s])
#
# Libraries are static, named skillsd_<name>, and aliased as skillsd::<name>. Include paths are rooted at the
# repository root, so every include reads "core/status.h", "proto/skillsd/v1/env.pb.h" and so on.

function(skillsd_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;HDRS;DEPS;PUBLIC_DEPS" ${ARGN})
  set(target skillsd_${ARG_NAME})
  if(ARG_SRCS)
    add_library(${target} STATIC ${ARG_SRCS} ${ARG_HDRS})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
    target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_DEPS})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
    target_link_libraries(${target} INTERFACE ${ARG_PUBLIC_DEPS} ${ARG_DEPS})
  endif()
  add_library(skillsd::${ARG_NAME} ALIAS ${target})
endfunction()

function(skillsd_cc_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
endfunction()

# Tests link GoogleTest/GoogleMock with gtest_main unless NO_MAIN is given. Every test binary is registered as
# one ctest entry (a torch-linked binary costs ~0.4 s to start, so prefer few binaries with many cases).
function(skillsd_cc_test)
  if(NOT SKILLSD_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "NO_MAIN" "NAME;TIMEOUT" "SRCS;DEPS;LABELS;ARGS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  if(ARG_NO_MAIN)
    target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest)
  else()
    target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest GTest::gmock_main)
  endif()
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME} ${ARG_ARGS})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${ARG_NAME} PROPERTIES
    ENVIRONMENT "SKILLSD_BIN_DIR=${PROJECT_BINARY_DIR}/bin;SKILLSD_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    TIMEOUT ${ARG_TIMEOUT})
  if(ARG_LABELS)
    set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()

# libFuzzer targets (SKILLSD_FUZZ=ON, clang only): build/fuzz/<name>. tests/fuzz.sh builds and runs them.
function(skillsd_fuzz_target)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/fuzz)
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  target_link_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer)
endfunction()
