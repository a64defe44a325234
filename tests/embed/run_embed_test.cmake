# CTest driver: install the build into a clean prefix, configure and build tests/embed against it as an
# outside project would, then run the example (which exits non-zero unless its loss falls).
# Arguments: -DBUILD_DIR=<Vireo build> -DSOURCE_DIR=<tests/embed> -DWORK_DIR=<scratch folder>
function(run_step description)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  message("${output}")
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "embed test: ${description} failed (${result})")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
run_step("installing Vireo into ${WORK_DIR}/prefix"
         ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
run_step("configuring the outside project"
         ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -G Ninja -DCMAKE_BUILD_TYPE=Release
         -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
run_step("building the outside project" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run_step("running the example" ${WORK_DIR}/build/embed_example)
