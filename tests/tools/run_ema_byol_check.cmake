# Experiment 2 of the SSL issue's reporter (tools/experiments/ema_scaling_byol.cpp) on hand-made run folders
# whose answer is known: the base b256 with kNN 50 % and 60 % after epochs 1 and 2; b64_rule 51 / 59.5
# (largest |Δ| 1 point, last 0.5); b64_norule 40 / 55 (10 and 5); b512_rule only epoch 1, 47 (3 and 3). Then
# a folder without the base run is refused.
#
#   cmake -DEXPERIMENT=<bin/experiment_ema_scaling_byol> -DWORK_DIR=<folder> -P run_ema_byol_check.cmake
include(${CMAKE_CURRENT_LIST_DIR}/decimal.cmake)
file(REMOVE_RECURSE "${WORK_DIR}")
file(WRITE "${WORK_DIR}/b256/metrics.jsonl"
     "{\"step\":0,\"epoch\":0.0,\"floor_linear_top1\":0.7}\n{\"step\":10,\"epoch\":1.0,\"knn_top1\":0.5}\n"
     "{\"step\":20,\"epoch\":2.0,\"knn_top1\":0.6}\n{\"step\":20,\"epoch\":2.0,\"linear_top1\":0.7}\n")
file(WRITE "${WORK_DIR}/b64_rule/metrics.jsonl"
     "{\"step\":40,\"epoch\":1.0,\"knn_top1\":0.51}\n{\"step\":80,\"epoch\":2.0,\"knn_top1\":0.595}\n"
     "{\"step\":80,\"epoch\":2.0,\"linear_top1\":0.69}\n")
file(WRITE "${WORK_DIR}/b64_norule/metrics.jsonl"
     "{\"step\":40,\"epoch\":1.0,\"knn_top1\":0.4}\n{\"step\":80,\"epoch\":2.0,\"knn_top1\":0.55}\n")
file(WRITE "${WORK_DIR}/b512_rule/metrics.jsonl" "{\"step\":5,\"epoch\":1.0,\"knn_top1\":0.47}\n")
execute_process(COMMAND ${EXPERIMENT} --in ${WORK_DIR} --figure ${WORK_DIR}/figure.svg
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT EXISTS "${WORK_DIR}/figure.svg")
  message(FATAL_ERROR "the reporter exited with ${rc} (or drew no figure):\n${out}\n${err}")
endif()
file(READ "${WORK_DIR}/summary.json" summary)
string(JSON count LENGTH "${summary}" runs)
if(NOT count EQUAL 4)
  message(FATAL_ERROR "expected 4 runs in summary.json, got ${count}:\n${summary}")
endif()
# Runs sorted by batch, the rule first: b256 (the base, listed first), b64_rule, b64_norule, b512_rule.
set(expected_names b256 b64_rule b64_norule b512_rule)
set(expected_max - 10000 100000 30000)    # micro-units: 1, 10 and 3 points
set(expected_last - 5000 50000 30000)
foreach(i RANGE 3)
  list(GET expected_names ${i} name)
  string(JSON got_name GET "${summary}" runs ${i} name)
  if(NOT got_name STREQUAL name)
    message(FATAL_ERROR "run ${i} is ${got_name}, expected ${name}:\n${out}")
  endif()
  if(i EQUAL 0)
    continue()
  endif()
  foreach(which max last)
    list(GET expected_${which} ${i} want)
    string(JSON got GET "${summary}" runs ${i} ${which}_abs_knn_difference)
    micro(${got} got_micro)
    math(EXPR error "${got_micro} - ${want}")
    if(error LESS -1 OR error GREATER 1)
      message(FATAL_ERROR "${name}: ${which} |Δ kNN| is ${got}, expected ${want} micro-units:\n${out}")
    endif()
  endforeach()
endforeach()
string(JSON base_linear GET "${summary}" runs 0 linear_top1)
string(JSON norule_linear TYPE "${summary}" runs 2 linear_top1)
micro(${base_linear} base_linear_micro)
if(NOT base_linear_micro EQUAL 700000 OR NOT norule_linear STREQUAL "NULL")
  message(FATAL_ERROR "linear_top1: base ${base_linear} (expected 0.7), b64_norule ${norule_linear} (expected null)")
endif()

file(REMOVE_RECURSE "${WORK_DIR}/b256")
execute_process(COMMAND ${EXPERIMENT} --in ${WORK_DIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "no base run b256")
  message(FATAL_ERROR "a folder without the base run was not refused (exit ${rc}):\n${err}")
endif()
