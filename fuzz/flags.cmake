# Included from the top-level CMakeLists.txt when SHARDPOOL_FUZZ is on, before any library is
# defined, so that the flags below reach every object the fuzz targets link. Build type "Fuzz":
# optimised enough to run fast, with asserts on (no NDEBUG) and line tables for the reports.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "SHARDPOOL_FUZZ needs clang (libFuzzer): configure with CXX=clang++")
endif()
set(CMAKE_CXX_FLAGS_FUZZ "-O1 -gline-tables-only")
if(NOT CMAKE_BUILD_TYPE STREQUAL "Fuzz")
  message(STATUS "SHARDPOOL_FUZZ: build type ${CMAKE_BUILD_TYPE}; scripts/fuzz.sh uses Fuzz")
endif()
# Libraries: coverage feedback without libFuzzer's main; the targets add -fsanitize=fuzzer.
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=address,undefined)
