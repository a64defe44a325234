// Every kernel table of the engine (engine/kernels/*.h) has a CUDA function in this build, so no op meets
// "no kernel for device cuda:0" on a GPU. Runs without a GPU: the tables are filled when vireo_engine loads.
// The list below is checked against the headers themselves, so a kernel added without its CUDA twin (or
// without being listed here) fails this suite.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "engine/cuda/runtime.h"
#include "engine/kernels/approx_activation.h"
#include "engine/kernels/attention.h"
#include "engine/kernels/conv.h"
#include "engine/kernels/copy.h"
#include "engine/kernels/cumsum.h"
#include "engine/kernels/elementwise.h"
#include "engine/kernels/indexing.h"
#include "engine/kernels/linalg.h"
#include "engine/kernels/normalization.h"
#include "engine/kernels/optim.h"
#include "engine/kernels/pad.h"
#include "engine/kernels/random.h"
#include "engine/kernels/reduction.h"
#include "engine/kernels/softmax.h"
#include "engine/kernels/sort.h"

#define VIREO_EACH_KERNEL(X) \
  X(pack_activation_codes) X(unpack_activation_codes) X(approx_activation_backward) X(attention_forward) \
  X(attention_backward) X(conv2d_forward) X(conv2d_input_grad) X(conv2d_weight_grad) X(max_pool2d) \
  X(max_pool2d_backward) X(max_pool2d_gather) X(avg_pool2d) X(avg_pool2d_backward) X(adaptive_avg_pool2d) \
  X(adaptive_avg_pool2d_backward) X(upsample_nearest2d) X(upsample_nearest2d_backward) X(upsample_bilinear2d) \
  X(upsample_bilinear2d_backward) X(copy) X(fill) X(transfer) X(cumsum) X(binary) X(unary) X(unary_backward) \
  X(where) X(index_select) X(index_add) X(gather) X(scatter_add) X(one_hot) X(batched_gemm) \
  X(batch_norm_forward) X(batch_norm_backward) X(layer_norm_forward) X(layer_norm_backward) \
  X(group_norm_forward) X(group_norm_backward) X(dropout_forward) X(embedding_forward) X(embedding_backward) \
  X(sgd_update) X(adam_update) X(sgd_update_many) X(adam_update_many) X(lars_update) X(lars_update_many) \
  X(norm_power_sum) X(scale_in_place) X(pad) X(pad_fold) X(random_fill) X(reduce) X(softmax) X(softmax_backward) \
  X(cross_entropy) X(cross_entropy_backward) X(sort) X(topk)

namespace vireo {
namespace {

TEST_CASE("cuda kernels: every kernel table has a CUDA function and every one but transfer a CPU function") {
  // A call into vireo_engine: the tables below are filled by its backends when it loads, and a program that
  // used only the (inline) tables would not even load it.
  REQUIRE(cuda::built_with_cuda());
  std::set<std::string> missing_cuda, missing_cpu;
#define VIREO_CHECK_KERNEL(name)                                                     \
  if (!kernels::name.has(DeviceType::cuda)) missing_cuda.insert(#name);              \
  if (!kernels::name.has(DeviceType::cpu) && std::string(#name) != "transfer") missing_cpu.insert(#name);
  VIREO_EACH_KERNEL(VIREO_CHECK_KERNEL)
#undef VIREO_CHECK_KERNEL
  std::string cuda_list, cpu_list;
  for (const std::string& name : missing_cuda) cuda_list += " " + name;
  for (const std::string& name : missing_cpu) cpu_list += " " + name;
  CHECK_MESSAGE(missing_cuda.empty(), "no CUDA function:", cuda_list);
  CHECK_MESSAGE(missing_cpu.empty(), "no CPU function:", cpu_list);
}

TEST_CASE("cuda kernels: the list above names every kernel the headers declare") {
  std::set<std::string> listed;
#define VIREO_LIST_KERNEL(name) listed.insert(#name);
  VIREO_EACH_KERNEL(VIREO_LIST_KERNEL)
#undef VIREO_LIST_KERNEL
  // Each table is declared as `inline Kernel<signature> name{"name"};` in engine/kernels/*.h.
  const std::regex declaration(R"re(\b(\w+)\{\s*"(\w+)"\})re");
  std::set<std::string> declared;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(VIREO_SOURCE_DIR) + "/engine/kernels")) {
    std::ifstream file(entry.path());
    std::stringstream text;
    text << file.rdbuf();
    const std::string content = text.str();
    for (std::sregex_iterator it(content.begin(), content.end(), declaration), end; it != end; ++it)
      declared.insert((*it)[1].str());
  }
  REQUIRE(declared.size() >= 50);
  for (const std::string& name : declared) CHECK_MESSAGE(listed.count(name) == 1, name, " is declared but not listed");
  for (const std::string& name : listed) CHECK_MESSAGE(declared.count(name) == 1, name, " is listed but not declared");
}

}  // namespace
}  // namespace vireo
