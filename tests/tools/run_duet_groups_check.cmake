# Experiment 4 of the SSL issue (tools/experiments/duet_groups.cpp) end to end at toy size: a DUET run of two
# steps on 256 Fashion-MNIST images (ResNet-18 at 1/16 width: 8 rotation bins × 4 content columns), then the
# experiment on 64 test images. Checks the table's consistency rather than what so short a run learned: one
# entry per bin at the bin's centre angle, every accuracy a multiple of 1/64 in [0, 1], within-one-bin ≥ exact,
# cosines in [−1, 1], the mean rows the means of the per-angle rows; and a missing checkpoint refused by path.
#
#   cmake -DVIREO=<bin/vireo> -DEXPERIMENT=<bin/experiment_duet_groups> -DRECIPE=<duet.yaml>
#         -DWORK_DIR=<folder> -P run_duet_groups_check.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
execute_process(COMMAND ${VIREO} train ${RECIPE} run.dir=${WORK_DIR}/run model.width=0.0625 data.batch_size=128
                        data.train_subset=256 data.test_subset=64 eval.train_examples=64 eval.linear_probe.epochs=1
                        train.epochs=1 run.threads=1 --progress lines
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "vireo train exited with ${rc}:\n${out}\n${err}")
endif()
execute_process(COMMAND ${EXPERIMENT} --checkpoint ${WORK_DIR}/run/checkpoint.safetensors --examples 64 --batch 32
                        --out ${WORK_DIR} --figure ${WORK_DIR}/duet_groups.svg
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the experiment exited with ${rc}:\n${out}\n${err}")
endif()
if(NOT EXISTS "${WORK_DIR}/duet_groups.svg")
  message(FATAL_ERROR "the experiment wrote no figure:\n${out}")
endif()
file(READ "${WORK_DIR}/duet_groups.json" summary)
string(JSON examples GET "${summary}" examples)
string(JSON groups GET "${summary}" groups)
string(JSON count LENGTH "${summary}" angles)
if(NOT examples EQUAL 64 OR NOT groups EQUAL 8 OR NOT count EQUAL 8)
  message(FATAL_ERROR "expected 64 examples and 8 bins, got ${examples}, ${groups}, ${count} angles:\n${summary}")
endif()

# x · 64 is a whole number (an accuracy over 64 images): checked in integer micro-units, since CMake's math()
# has no floating point.
include(${CMAKE_CURRENT_LIST_DIR}/decimal.cmake)

foreach(network trained untrained)
  foreach(key group_accuracy group_accuracy_within_one_bin content_cosine_same_image content_cosine_other_image
              retrieval_top1)
    set(sum_${key} 0)
  endforeach()
  foreach(i RANGE 7)
    string(JSON degrees GET "${summary}" angles ${i} degrees)
    micro(${degrees} got_degrees)
    math(EXPR want_degrees "(45000000 * ${i} + 22500000) - 180000000")
    if(NOT got_degrees EQUAL want_degrees)
      message(FATAL_ERROR "angle ${i} is ${degrees}, not the centre of bin ${i}")
    endif()
    foreach(key group_accuracy group_accuracy_within_one_bin content_cosine_same_image content_cosine_other_image
                retrieval_top1)
      string(JSON value GET "${summary}" angles ${i} ${network} ${key})
      micro(${value} ${key})
      math(EXPR sum_${key} "${sum_${key}} + ${${key}}")
    endforeach()
    foreach(key group_accuracy group_accuracy_within_one_bin retrieval_top1)
      math(EXPR over "${${key}} * 64")  # micro-units · 64: a multiple of 10⁶ up to rounding
      math(EXPR remainder "(${over} + 500) % 1000000")
      if(${key} LESS 0 OR ${key} GREATER 1000000 OR remainder GREATER 1000)
        message(FATAL_ERROR "${network} ${key} at bin ${i} is not a fraction of the 64 images: ${${key}} µ")
      endif()
    endforeach()
    if(group_accuracy GREATER group_accuracy_within_one_bin)
      message(FATAL_ERROR "${network} bin ${i}: exact-bin accuracy above within-one-bin accuracy")
    endif()
    foreach(key content_cosine_same_image content_cosine_other_image)
      if(${key} LESS -1000001 OR ${key} GREATER 1000001)
        message(FATAL_ERROR "${network} ${key} at bin ${i} is outside [-1, 1]: ${${key}} µ")
      endif()
    endforeach()
  endforeach()
  foreach(key group_accuracy group_accuracy_within_one_bin content_cosine_same_image content_cosine_other_image
              retrieval_top1)
    string(JSON value GET "${summary}" mean_${network} ${key})
    micro(${value} mean)
    math(EXPR difference "${sum_${key}} - 8 * ${mean}")
    if(difference LESS -20 OR difference GREATER 20)
      message(FATAL_ERROR "${network} mean ${key} ${value} is not the mean of its bins (sum ${sum_${key}} µ)")
    endif()
  endforeach()
endforeach()

execute_process(COMMAND ${EXPERIMENT} --checkpoint ${WORK_DIR}/missing.safetensors
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "missing.safetensors")
  message(FATAL_ERROR "a missing checkpoint was not refused by path (exit ${rc}):\n${err}")
endif()
