# Fails when a TEST_CASE name contains ',' or ';'. doctest reads a comma in --test-case=NAME as a
# separator between filters (and CMake reads ';' as a list separator), so such a test would match
# nothing under CTest — and be reported as passed without running.
file(GLOB_RECURSE sources ${SOURCE_DIR}/*/test_*.cpp)
set(bad "")
foreach(source ${sources})
  file(STRINGS ${source} lines REGEX "TEST_CASE\\(\"")
  foreach(line IN LISTS lines)
    if(line MATCHES "TEST_CASE\\(\"[^\"]*[,]")
      string(APPEND bad "\n  ${source}: ${line}")
    endif()
  endforeach()
  # ';' cannot survive file(STRINGS) list splitting, so look for it in the raw text.
  file(READ ${source} text)
  string(REGEX MATCHALL "TEST_CASE\\(\"[^\"\n]*\\;[^\"\n]*\"" semicolons "${text}")
  if(semicolons)
    string(APPEND bad "\n  ${source}: a TEST_CASE name contains ';'")
  endif()
endforeach()
if(bad)
  message(FATAL_ERROR "TEST_CASE names must not contain ',' or ';' (CTest would run nothing for them):${bad}")
endif()
message(STATUS "every TEST_CASE name is safe for CTest")
