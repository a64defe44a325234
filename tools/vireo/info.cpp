// vireo info: what this build is and what it runs on — version, build type, math threads, the CPU's
// vector extensions (and which ones the build was compiled for), CUDA devices, the default dataset.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/cuda/runtime.h"
#include "tools/vireo/commands.h"
#include "training/data/dataset.h"
#include "training/data/idx.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef VIREO_VERSION
#define VIREO_VERSION "unknown"
#endif
#ifndef VIREO_BUILD_TYPE
#define VIREO_BUILD_TYPE "unknown"
#endif

namespace vireo::cli {
namespace {

// __builtin_cpu_supports takes a string literal, hence one line per feature.
std::vector<std::string> cpu_features() {
  std::vector<std::string> found;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2")) found.push_back("SSE4.2");
  if (__builtin_cpu_supports("avx")) found.push_back("AVX");
  if (__builtin_cpu_supports("avx2")) found.push_back("AVX2");
  if (__builtin_cpu_supports("fma")) found.push_back("FMA");
  if (__builtin_cpu_supports("avx512f")) found.push_back("AVX-512F");
  if (__builtin_cpu_supports("avx512bw")) found.push_back("AVX-512BW");
  if (__builtin_cpu_supports("avx512vl")) found.push_back("AVX-512VL");
  if (__builtin_cpu_supports("avx512dq")) found.push_back("AVX-512DQ");
  if (__builtin_cpu_supports("avx512vnni")) found.push_back("AVX-512VNNI");
  if (__builtin_cpu_supports("avx512bf16")) found.push_back("AVX-512BF16");
  return found;
}

// The widest vector extension the compiler was allowed to use for this build.
const char* compiled_for() {
#if defined(__AVX512F__)
  return "AVX-512";
#elif defined(__AVX2__)
  return "AVX2";
#elif defined(__AVX__)
  return "AVX";
#else
  return "SSE";
#endif
}

int run_info() {
  std::printf("vireo %s (%s build)\n", VIREO_VERSION, VIREO_BUILD_TYPE);
#ifdef _OPENMP
  std::printf("threads: %d (OpenMP; set with run.threads or OMP_NUM_THREADS)\n", omp_get_max_threads());
#else
  std::printf("threads: 1 (built without OpenMP)\n");
#endif
  std::string features;
  for (const auto& feature : cpu_features()) features += (features.empty() ? "" : " ") + feature;
  std::printf("CPU features: %s\n", features.empty() ? "none of note" : features.c_str());
  std::printf("compiled for: %s\n", compiled_for());
  // The toolkit, driver, cuDNN and cuBLAS versions and each GPU — or why none is usable (no backend in this
  // build, no driver, a driver older than the toolkit, no GPU).
  for (const std::string& line : cuda::cuda_summary()) std::printf("CUDA: %s\n", line.c_str());
  const std::string root = data::resolve_data_root("", data::kFashionMnistRoot);
  const bool present = std::filesystem::exists(root + "/train-images-idx3-ubyte.gz") ||
                       std::filesystem::exists(root + "/train-images-idx3-ubyte");
  std::printf("Fashion-MNIST: %s (%s)\n", root.c_str(), present ? "found" : "not found");
  return 0;
}

}  // namespace

Subcommand add_info_command(CLI::App& vireo) {
  CLI::App* app = vireo.add_subcommand("info", "Version, build, threads, CPU features and CUDA devices");
  return {app, [] { return run_info(); }};
}

}  // namespace vireo::cli
