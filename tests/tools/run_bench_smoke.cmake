# Smoke test of `vireo bench` (tools/vireo/bench.cpp): one workload, a tiny configuration (batch 2, one
# step, no warm-up, one ViT block), and a check that stdout is ONE JSON line with the keys `vireo bench`
# promises. No timing is asserted; the forward GFLOP of ResNet-18 and the ViT are checked against the
# scripts' formulas, recomputed here.
#
# vit_tiny_memory: the ViT with the three memory switches and --memory, checked for what the switches
# changed and for the per-phase memory (the forward leaves the graph's saved tensors held; backward frees them).
#
#   cmake -DVIREO=<path to bin/vireo> -DWORKLOAD=resnet18_cifar|vit_tiny|vit_tiny_memory|ddpm_unet|byol_resnet18|gemm
#         -P run_bench_smoke.cmake
if(WORKLOAD STREQUAL "vit_tiny_memory")
  execute_process(COMMAND ${VIREO} bench --model vit_tiny --batch 2 --steps 1 --warmup 0 --threads 1 --depth 2
                          --approx-bp --ms-norm --checkpoint-blocks --memory
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "vireo bench --memory exited with ${rc}:\n${err}")
  endif()
  string(STRIP "${out}" line)
  string(JSON activations GET "${line}" memory_switches approx_activations)
  string(JSON norms GET "${line}" memory_switches memory_sharing_norms)
  string(JSON blocks GET "${line}" memory_switches checkpointed_blocks)
  if(NOT activations EQUAL 2 OR NOT norms EQUAL 4 OR NOT blocks EQUAL 2)
    message(FATAL_ERROR "vireo bench: expected 2 activations, 4 norms and 2 blocks switched:\n${line}")
  endif()
  string(JSON start GET "${line}" memory_phases zero_grad held_mib)
  string(JSON after_forward GET "${line}" memory_phases forward held_mib)
  string(JSON after_backward GET "${line}" memory_phases backward held_mib)
  string(JSON backward_peak GET "${line}" memory_phases backward peak_mib)
  if(NOT after_forward GREATER start OR NOT backward_peak GREATER after_backward)
    message(FATAL_ERROR "vireo bench --memory: the forward should leave tensors held and the backward peak above "
                        "its end:\n${line}")
  endif()
  return()
endif()
if(WORKLOAD STREQUAL "gemm")
  set(args bench --gemm 64 --threads 1)
  set(keys gemm_n threads gflop_per_s gflop_per_s_best fma_peak_gflop_per_s fraction_of_peak)
else()
  set(args bench --model ${WORKLOAD} --batch 2 --steps 1 --warmup 0 --threads 1)
  if(WORKLOAD STREQUAL "vit_tiny")
    list(APPEND args --depth 1)
  endif()
  set(keys model batch threads img_per_s img_per_s_min img_per_s_max peak_rss_mib peak_tensor_mib gflop_per_img
           train_gflop_per_img step_ms_median final_loss)
endif()

execute_process(COMMAND ${VIREO} ${args} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "vireo ${args} exited with ${rc}:\n${err}")
endif()
string(STRIP "${out}" line)
if(line STREQUAL "" OR line MATCHES "\n")
  message(FATAL_ERROR "vireo ${args} should print exactly one line, printed:\n${out}")
endif()
foreach(key IN LISTS keys)
  string(JSON value ERROR_VARIABLE json_error GET "${line}" ${key})
  if(json_error)
    message(FATAL_ERROR "vireo ${args}: no \"${key}\" in its JSON line (${json_error}):\n${line}")
  endif()
  set(value_${key} "${value}")
endforeach()

if(WORKLOAD STREQUAL "gemm")
  if(NOT value_gemm_n EQUAL 64 OR NOT value_gflop_per_s GREATER 0)
    message(FATAL_ERROR "vireo ${args}: expected n 64 and a positive rate:\n${line}")
  endif()
  return()
endif()

if(NOT value_model STREQUAL WORKLOAD OR NOT value_batch EQUAL 2 OR NOT value_threads EQUAL 1)
  message(FATAL_ERROR "vireo ${args}: model/batch/threads do not echo the flags:\n${line}")
endif()
if(NOT value_img_per_s GREATER 0 OR NOT value_peak_rss_mib GREATER 0 OR NOT value_peak_tensor_mib GREATER 0
   OR NOT value_gflop_per_img GREATER 0)
  message(FATAL_ERROR "vireo ${args}: throughput, memory and GFLOP must be positive:\n${line}")
endif()

# Forward multiply-adds per image, as the PyTorch scripts count them.
if(WORKLOAD STREQUAL "resnet18_cifar")
  # 3×3 conv MACs = H·W·out·in·9 (1×1: without the 9); CIFAR stem at 32×32, stages at 32, 16, 8, 4.
  math(EXPR macs "32*32*64*3*9 + 4*(32*32*64*64*9)")
  foreach(stage IN ITEMS "16;128" "8;256" "4;512")
    list(GET stage 0 side)
    list(GET stage 1 width)
    math(EXPR macs "${macs} + ${side}*${side}*${width}*(${width}/2)*9 + 3*(${side}*${side}*${width}*${width}*9) + ${side}*${side}*${width}*(${width}/2)")
  endforeach()
  math(EXPR macs "${macs} + 512*10")
elseif(WORKLOAD STREQUAL "vit_tiny")
  # bench_vit_tiny.py's analytic count, depth 1: T = 65 tokens, D = 192, MLP 768, patch 4.
  math(EXPR macs "65*(192*3*192 + 192*192 + 2*192*768) + 2*65*65*192 + 64*192*3*4*4 + 192*10")
endif()
if(DEFINED macs)
  # The driver prints GFLOP rounded to 4 decimals: round 2·macs the same way, in units of 1e-4 GFLOP.
  math(EXPR units "(2*${macs} + 50000) / 100000")
  math(EXPR whole "${units} / 10000")
  math(EXPR fraction "${units} % 10000 + 10000")  # a leading 1 keeps the zero padding
  string(SUBSTRING "${fraction}" 1 4 fraction)
  if(NOT value_gflop_per_img EQUAL "${whole}.${fraction}")
    message(FATAL_ERROR "vireo ${args}: gflop_per_img ${value_gflop_per_img}, expected ${whole}.${fraction} "
                        "(${macs} multiply-adds per image)")
  endif()
endif()
