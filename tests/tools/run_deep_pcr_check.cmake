# DeepPCR's claims at small L (tools/experiments/deep_pcr_depth.cpp, METHODS.md §3): on tanh MLPs of widths
# 8 and 16 and depths 16 … 64, Newton converges in a handful of iterations, each solve takes ⌈log₂ L⌉
# sweeps (the backward too), the sequential depth is iterations × (sweeps + 1) + 1, and the states and
# gradients equal the sequential chain's to f32 precision. Reads the experiment's summary.json.
#
#   cmake -DEXPERIMENT=<bin/experiment_deep_pcr_depth> -DWORK_DIR=<folder> -P run_deep_pcr_check.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
execute_process(COMMAND ${EXPERIMENT} --out ${WORK_DIR} --widths 8,16 --min-depth 16 --max-depth 64 --repeats 1
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the experiment exited with ${rc}:\n${err}")
endif()
foreach(file results.csv deep_pcr_depth.svg deep_pcr_time.svg)
  if(NOT EXISTS "${WORK_DIR}/${file}")
    message(FATAL_ERROR "the experiment wrote no ${file} into ${WORK_DIR}")
  endif()
endforeach()
file(READ "${WORK_DIR}/summary.json" summary)
string(JSON rows LENGTH "${summary}" rows)
if(NOT rows EQUAL 6)
  message(FATAL_ERROR "expected 6 rows (2 widths × L = 16, 32, 64) in summary.json, got ${rows}:\n${summary}")
endif()
math(EXPR last "${rows} - 1")
foreach(i RANGE 0 ${last})
  string(JSON row GET "${summary}" rows ${i})
  foreach(key layers converged newton_iterations sweeps_per_solve backward_sweeps sequential_steps state_difference
              gradient_difference)
    string(JSON ${key} GET "${row}" ${key})
  endforeach()
  set(expected_sweeps 4)
  if(layers EQUAL 32)
    set(expected_sweeps 5)
  elseif(layers EQUAL 64)
    set(expected_sweeps 6)
  endif()
  math(EXPR expected_steps "${newton_iterations} * (${sweeps_per_solve} + 1) + 1")
  # Measured: 5 to 7 iterations, differences below 3e-6.
  if(NOT converged STREQUAL "ON" OR newton_iterations GREATER 10 OR NOT sweeps_per_solve EQUAL expected_sweeps
     OR NOT backward_sweeps EQUAL expected_sweeps OR NOT sequential_steps EQUAL expected_steps
     OR state_difference GREATER 1e-4 OR gradient_difference GREATER 1e-4)
    message(FATAL_ERROR "DeepPCR's claims fail on row ${i}:\n${row}")
  endif()
endforeach()
