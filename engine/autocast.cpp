#include "engine/autocast.h"

#include "engine/error.h"
#include "engine/tensor.h"

namespace vireo {
namespace {
thread_local std::optional<DType> t_autocast;
}  // namespace

Autocast::Autocast(std::optional<DType> compute) : previous_(t_autocast) {
  VIREO_CHECK(!compute || *compute == DType::bf16 || *compute == DType::f16,
              "Autocast: computes in bf16 or f16, not ", *compute);
  t_autocast = compute;
}

Autocast::~Autocast() { t_autocast = previous_; }

std::optional<DType> autocast_compute_type(std::initializer_list<const Tensor*> operands) {
  if (!t_autocast) return std::nullopt;
  bool any = false;
  for (const Tensor* t : operands) {
    if (!t->defined()) continue;
    if (t->dtype() != DType::f32 || !t->device().is_cuda()) return std::nullopt;
    any = true;
  }
  return any ? t_autocast : std::nullopt;
}

}  // namespace vireo
