# The side-by-side reporter of experiments 3 and 5 (tools/experiments/ssl_runs.cpp) on hand-made run folders
# whose answer is known: run A floor 70 %, kNN 50 → 60 (epoch 2 logged twice by a resume: the later 0.6
# wins), probe 75 % (margin 5 points), img/s 10, 30, 20 (median 20); run B unfinished (one kNN, no probe).
# Then a --run without '=' and a folder without metrics.jsonl are refused, each naming what was wrong.
#
#   cmake -DEXPERIMENT=<bin/experiment_ssl_runs> -DWORK_DIR=<folder> -P run_ssl_runs_check.cmake
include(${CMAKE_CURRENT_LIST_DIR}/decimal.cmake)
file(REMOVE_RECURSE "${WORK_DIR}")
file(WRITE "${WORK_DIR}/a/metrics.jsonl"
     "{\"step\":0,\"epoch\":0.0,\"floor_linear_top1\":0.7}\n"
     "{\"step\":5,\"epoch\":0.5,\"loss\":2.0,\"img_per_s\":10}\n{\"step\":10,\"epoch\":1.0,\"loss\":1.5,\"img_per_s\":30}\n"
     "{\"step\":10,\"epoch\":1.0,\"knn_top1\":0.5}\n{\"step\":20,\"epoch\":2.0,\"loss\":1.25,\"img_per_s\":20}\n"
     "{\"step\":20,\"epoch\":2.0,\"knn_top1\":0.58}\n{\"step\":20,\"epoch\":2.0,\"knn_top1\":0.6}\n"
     "{\"step\":20,\"epoch\":2.0,\"linear_top1\":0.75}\n")
file(WRITE "${WORK_DIR}/b/metrics.jsonl" "{\"step\":10,\"epoch\":1.0,\"knn_top1\":0.4}\n")
execute_process(COMMAND ${EXPERIMENT} --title "two runs" --run "A=${WORK_DIR}/a" --run "B=${WORK_DIR}/b"
                        --figure ${WORK_DIR}/figure.svg --summary ${WORK_DIR}/summary.json
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT EXISTS "${WORK_DIR}/figure.svg")
  message(FATAL_ERROR "the reporter exited with ${rc} (or drew no figure):\n${out}\n${err}")
endif()
foreach(row "| A | 50.0 → 60.0 | 75.00 | 70.00 | 5.00 | 1.25 | 20 |" "| B | 40.0 (unfinished) | - | - | - | - | - |")
  string(FIND "${out}" "${row}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the table lacks the row\n${row}\n:\n${out}")
  endif()
endforeach()
file(READ "${WORK_DIR}/summary.json" summary)
string(JSON count LENGTH "${summary}" runs)
string(JSON knn_epochs LENGTH "${summary}" runs 0 knn_top1)
string(JSON last_knn GET "${summary}" runs 0 knn_top1 1)
string(JSON b_linear TYPE "${summary}" runs 1 linear_top1)
micro(${last_knn} last_knn_micro)
if(NOT count EQUAL 2 OR NOT knn_epochs EQUAL 2 OR NOT last_knn_micro EQUAL 600000 OR NOT b_linear STREQUAL "NULL")
  message(FATAL_ERROR "summary.json: ${count} runs, A's kNN ${knn_epochs} epochs ending ${last_knn}, B's probe ${b_linear}:\n${summary}")
endif()

execute_process(COMMAND ${EXPERIMENT} --title t --run "${WORK_DIR}/a" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "is not LABEL=FOLDER")
  message(FATAL_ERROR "a --run without a label was not refused (exit ${rc}):\n${err}")
endif()
execute_process(COMMAND ${EXPERIMENT} --title t --run "C=${WORK_DIR}/missing" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "cannot read .*missing/metrics.jsonl")
  message(FATAL_ERROR "a folder without metrics.jsonl was not refused (exit ${rc}):\n${err}")
endif()
