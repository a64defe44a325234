// CUDA optimizer kernels (engine/cuda/optim.cu). On the host: the per-element updates of
// engine/cuda/optim_math.h, run in a plain loop, against the CPU optimizer kernels for SGD (momentum,
// dampening, Nesterov, maximize, first step), Adam/AdamW (amsgrad, maximize, coupled and decoupled decay),
// LARS (trust ratio) and the norm pieces; the plans of the multi-tensor launches (every chunk of every
// tensor in exactly one block, within the tables' limits). On a GPU: every kernel against the CPU in f32 and f64.
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "engine/cuda/optim_math.h"
#include "engine/kernels/optim.h"
#include "models/registry.h"
#include "parity.h"
#include "parity_inputs.h"

using namespace vireo;
using namespace vireo::cuda;
using kernels::AdamUpdate;
using kernels::LarsUpdate;
using kernels::SgdUpdate;

namespace {

constexpr int64_t kCount = 1000;

// Elementwise close: the CPU loop may contract a·b + c into one FMA where the host loop does not.
void expect_close_vectors(const std::vector<double>& got, const std::vector<double>& want, double rtol, const char* what) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i)
    CHECK_MESSAGE(std::abs(got[i] - want[i]) <= rtol * (1.0 + std::abs(want[i])), what, " element ", i, ": ", got[i],
                  " vs ", want[i]);
}

double rtol_for(DType dtype) { return dtype == DType::f64 ? 1e-13 : 2e-6; }

template <class T>
std::vector<T> as(const std::vector<double>& values) {
  return std::vector<T>(values.begin(), values.end());
}
template <class T>
std::vector<double> widen(const std::vector<T>& values) {
  return std::vector<double>(values.begin(), values.end());
}

template <class T>
void check_sgd(DType dtype, const SgdUpdate& u) {
  const Tensor p = test::random_tensor({kCount}, dtype, 1), g = test::random_tensor({kCount}, dtype, 2),
               buf = test::random_tensor({kCount}, dtype, 3);
  std::vector<T> hp = as<T>(p.to_vector()), hg = as<T>(g.to_vector()), hb = as<T>(buf.to_vector());
  const SgdScalars<T> s = sgd_scalars<T>(u);
  for (int64_t i = 0; i < kCount; ++i) sgd_step(hp[i], hg[i], hb[i], s);
  kernels::sgd_update(Device::cpu(), p, g, u.momentum != 0.0 ? buf : Tensor(), u);
  expect_close_vectors(widen(hp), p.to_vector(), rtol_for(dtype), "sgd param");
  if (u.momentum != 0.0) expect_close_vectors(widen(hb), buf.to_vector(), rtol_for(dtype), "sgd momentum buffer");
}

template <class T>
void check_adam(DType dtype, const AdamUpdate& u) {
  const Tensor p = test::random_tensor({kCount}, dtype, 4), g = test::random_tensor({kCount}, dtype, 5),
               m = test::random_tensor({kCount}, dtype, 6);
  const Tensor v = mul(test::random_tensor({kCount}, dtype, 7), test::random_tensor({kCount}, dtype, 7));  // ≥ 0
  const Tensor v_max = mul(v, 1.5);
  std::vector<T> hp = as<T>(p.to_vector()), hg = as<T>(g.to_vector()), hm = as<T>(m.to_vector()), hv = as<T>(v.to_vector()),
                 hvm = as<T>(v_max.to_vector());
  const AdamScalars<T> s = adam_scalars<T>(u);
  for (int64_t i = 0; i < kCount; ++i) adam_step(hp[i], hg[i], hm[i], hv[i], hvm[i], s);
  kernels::adam_update(Device::cpu(), p, g, m, v, u.amsgrad ? v_max : Tensor(), u);
  expect_close_vectors(widen(hp), p.to_vector(), rtol_for(dtype), "adam param");
  expect_close_vectors(widen(hm), m.to_vector(), rtol_for(dtype), "adam exp_avg");
  expect_close_vectors(widen(hv), v.to_vector(), rtol_for(dtype), "adam exp_avg_sq");
  if (u.amsgrad) expect_close_vectors(widen(hvm), v_max.to_vector(), rtol_for(dtype), "adam max_exp_avg_sq");
}

template <class T>
void check_lars(DType dtype, const LarsUpdate& u) {
  const Tensor p = test::random_tensor({kCount}, dtype, 8), g = test::random_tensor({kCount}, dtype, 9),
               buf = test::random_tensor({kCount}, dtype, 10);
  std::vector<T> hp = as<T>(p.to_vector()), hg = as<T>(g.to_vector()), hb = as<T>(buf.to_vector());
  const T wd = static_cast<T>(u.weight_decay);
  double pp = 0.0, dd = 0.0;
  for (int64_t i = 0; i < kCount; ++i) {
    const double d = static_cast<double>(lars_direction(hp[i], hg[i], wd));
    pp += static_cast<double>(hp[i]) * static_cast<double>(hp[i]);
    dd += d * d;
  }
  const double ratio = u.adapt ? lars_trust_ratio(pp, dd, u.trust_coefficient, u.eps) : 1.0;
  for (int64_t i = 0; i < kCount; ++i)
    lars_step(hp[i], hg[i], hb[i], static_cast<T>(u.lr), wd, static_cast<T>(u.momentum), static_cast<T>(ratio));
  const Tensor cpu_ratio = zeros({}, {.dtype = DType::f64});
  kernels::lars_update(Device::cpu(), p, g, buf, u, cpu_ratio);
  CHECK(ratio == doctest::Approx(cpu_ratio.item()).epsilon(1e-12));
  expect_close_vectors(widen(hp), p.to_vector(), rtol_for(dtype), "lars param");
  expect_close_vectors(widen(hb), buf.to_vector(), rtol_for(dtype), "lars momentum buffer");
}

std::vector<SgdUpdate> sgd_cases() {
  std::vector<SgdUpdate> cases;
  for (double momentum : {0.0, 0.9})
    for (bool nesterov : {false, true})
      for (bool maximize : {false, true})
        for (bool first : {false, true}) {
          if (nesterov && momentum == 0.0) continue;
          cases.push_back({.lr = 0.1, .momentum = momentum, .dampening = nesterov ? 0.0 : 0.25, .weight_decay = 5e-4,
                           .nesterov = nesterov, .maximize = maximize, .first_step = first});
        }
  cases.push_back({.lr = 0.05});  // plain SGD, no decay
  return cases;
}

std::vector<AdamUpdate> adam_cases() {
  std::vector<AdamUpdate> cases;
  for (bool decoupled : {false, true})
    for (bool amsgrad : {false, true})
      for (bool maximize : {false, true})
        for (double beta1 : {0.9, 0.3}) {  // 0.3: torch's lerp takes its other branch
          const int step = 7;
          AdamUpdate u{.lr = 1e-3, .beta1 = beta1, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.05};
          u.step_size = u.lr / (1.0 - std::pow(beta1, step));
          u.bias_correction2_sqrt = std::sqrt(1.0 - std::pow(u.beta2, step));
          u.decoupled_weight_decay = decoupled;
          u.amsgrad = amsgrad;
          u.maximize = maximize;
          cases.push_back(u);
        }
  return cases;
}

std::vector<LarsUpdate> lars_cases() {
  return {{.lr = 0.2, .momentum = 0.9, .weight_decay = 1.5e-6, .trust_coefficient = 1e-3, .eps = 0.0, .adapt = true},
          {.lr = 0.2, .momentum = 0.9, .weight_decay = 0.0, .trust_coefficient = 1e-3, .eps = 1e-9, .adapt = true},
          {.lr = 0.1, .momentum = 0.5, .weight_decay = 1e-4, .trust_coefficient = 1e-3, .eps = 0.0, .adapt = false}};
}

}  // namespace

TEST_CASE("cuda optim math: the per-element SGD and Adam and LARS updates equal the CPU optimizer kernels") {
  for (const SgdUpdate& u : sgd_cases()) {
    check_sgd<double>(DType::f64, u);
    check_sgd<float>(DType::f32, u);
  }
  for (const AdamUpdate& u : adam_cases()) {
    check_adam<double>(DType::f64, u);
    check_adam<float>(DType::f32, u);
  }
  for (const LarsUpdate& u : lars_cases()) {
    check_lars<double>(DType::f64, u);
    check_lars<float>(DType::f32, u);
  }
}

TEST_CASE("cuda optim math: norm terms and the NaN-propagating maximum match the CPU norm sums") {
  const Tensor x = test::random_tensor({kCount}, DType::f64, 11);
  const std::vector<double> xs = x.to_vector();
  for (double power : {1.0, 2.0, 3.0, 0.5}) {
    double sum = 0.0;
    for (double v : xs) sum += power_term(v, power);
    double cpu = 0.0;
    kernels::norm_power_sum(Device::cpu(), x, power, cpu);
    CHECK(sum == doctest::Approx(cpu).epsilon(1e-12));
  }
  double largest = 0.0;
  for (double v : xs) largest = max_propagating_nan(largest, std::abs(v));
  double cpu = 0.0;
  kernels::norm_power_sum(Device::cpu(), x, INFINITY, cpu);
  CHECK(largest == cpu);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isnan(max_propagating_nan(nan, 1.0)));
  CHECK(std::isnan(max_propagating_nan(1.0, nan)));
  CHECK(max_propagating_nan(1.0, 2.0) == 2.0);
  CHECK(lars_trust_ratio(0.0, 4.0, 1e-3, 0.0) == 1.0);
  CHECK(lars_trust_ratio(4.0, 0.0, 1e-3, 0.0) == 1.0);
  CHECK(lars_trust_ratio(4.0, 16.0, 1e-3, 0.0) == doctest::Approx(1e-3 * 2.0 / 4.0));
}

// ---- multi-tensor launches (engine/cuda/multi_tensor.h), on the host ----

// Every (tensor, chunk) pair in exactly one block, in order, and no launch over its limits.
void check_plan(const std::vector<int64_t>& sizes, const MultiTensorLimits& limits) {
  const std::vector<MultiTensorLaunch> launches = plan_multi_tensor_launches(sizes, limits);
  std::vector<std::pair<int, int64_t>> dealt, expected;
  for (size_t t = 0; t < sizes.size(); ++t)
    for (int64_t c = 0; c * limits.chunk < sizes[t]; ++c) expected.emplace_back(static_cast<int>(t), c);
  for (const MultiTensorLaunch& launch : launches) {
    CHECK(!launch.blocks.empty());
    CHECK(static_cast<int>(launch.tensors.size()) <= limits.tensors);
    CHECK(static_cast<int>(launch.blocks.size()) <= limits.blocks);
    std::vector<int> blocks_per_slot(launch.tensors.size(), 0);
    for (const MultiTensorBlock& block : launch.blocks) {
      REQUIRE(block.slot >= 0);
      REQUIRE(block.slot < static_cast<int>(launch.tensors.size()));
      ++blocks_per_slot[block.slot];
      dealt.emplace_back(launch.tensors[block.slot], block.chunk);
    }
    for (int count : blocks_per_slot) CHECK(count > 0);  // no slot spent on a tensor without a block
  }
  CHECK(dealt == expected);
}

TEST_CASE("cuda multi-tensor plan: a small case by hand") {
  // Chunks of 10, 2 slots, 3 blocks: tensor 0 (25 elements) fills the first launch's 3 blocks; the empty
  // tensor 1 takes nothing; tensors 2 (5) and 3 (12) share the second.
  const auto launches = plan_multi_tensor_launches({25, 0, 5, 12}, {.tensors = 2, .blocks = 3, .chunk = 10});
  REQUIRE(launches.size() == 2);
  CHECK(launches[0].tensors == std::vector<int>{0});
  REQUIRE(launches[0].blocks.size() == 3);
  CHECK(launches[0].blocks[2].chunk == 2);
  CHECK(launches[1].tensors == std::vector<int>{2, 3});
  REQUIRE(launches[1].blocks.size() == 3);
  CHECK(launches[1].blocks[0].slot == 0);
  CHECK(launches[1].blocks[1].slot == 1);
  CHECK(launches[1].blocks[2].chunk == 1);
  // A tensor cut by a full block table goes on in the next launch's slot 0 from the next chunk.
  const auto cut = plan_multi_tensor_launches({45}, {.tensors = 2, .blocks = 3, .chunk = 10});
  REQUIRE(cut.size() == 2);
  CHECK(cut[1].tensors == std::vector<int>{0});
  CHECK(cut[1].blocks[0].chunk == 3);
  CHECK(cut[1].blocks.size() == 2);
  CHECK(plan_multi_tensor_launches({0, 0}, {.tensors = 2, .blocks = 3, .chunk = 10}).empty());
  CHECK_THROWS_WITH_AS(plan_multi_tensor_launches({1}, {.tensors = 0, .blocks = 3, .chunk = 10}),
                       doctest::Contains("limits must be positive"), Error);
}

TEST_CASE("cuda multi-tensor plan: every chunk once within the limits for random sizes and a ResNet-18") {
  std::mt19937_64 random(5);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<int64_t> sizes(1 + random() % 40);
    for (int64_t& size : sizes) {
      const int kind = static_cast<int>(random() % 4);
      size = kind == 0 ? 0 : kind == 1 ? static_cast<int64_t>(random() % 30) : static_cast<int64_t>(random() % 400);
    }
    const MultiTensorLimits limits{.tensors = 1 + static_cast<int>(random() % 5),
                                   .blocks = 1 + static_cast<int>(random() % 9),
                                   .chunk = 1 + static_cast<int64_t>(random() % 16)};
    CAPTURE(trial);
    check_plan(sizes, limits);
  }
  // The optimizers' own limits on the parameters of a ResNet-18 (CIFAR stem, 10 classes; 62 tensors,
  // 11.17 M elements).
  std::vector<int64_t> resnet;
  const auto model = models::create_model("resnet18", {{"num_classes", int64_t{10}}, {"stem", std::string("cifar")}});
  for (const auto& [name, parameter] : model->named_parameters()) resnet.push_back(parameter.numel());
  REQUIRE(resnet.size() == 62);
  for (const MultiTensorLimits& limits : {kSgdLaunchLimits, kAdamLaunchLimits}) {
    check_plan(resnet, limits);
    CHECK(plan_multi_tensor_launches(resnet, limits).size() == 4);  // instead of 62: the block tables bound it
  }
}

// ---- GPU parity ----

TEST_CASE("cuda optim parity: SGD and Adam and LARS steps against the CPU") {
  VIREO_REQUIRE_GPU();
  const int64_t n = 100003;  // not a multiple of any block size
  for (DType dtype : {DType::f64, DType::f32}) {
    CAPTURE(dtype);
    const Tensor p = test::random_tensor({n}, dtype, 21), g = test::random_tensor({n}, dtype, 22),
                 b = test::random_tensor({n}, dtype, 23), v = mul(p, p);
    for (const SgdUpdate& u : sgd_cases()) {
      const Tensor cp = p.clone(), cb = b.clone(), gp = test::on_cuda(p), gb = test::on_cuda(b);
      const bool momentum = u.momentum != 0.0;
      kernels::sgd_update(Device::cpu(), cp, g, momentum ? cb : Tensor(), u);
      kernels::sgd_update(Device::cuda(), gp, test::on_cuda(g), momentum ? gb : Tensor(), u);
      test::expect_close(gp, cp, "sgd param");
      if (momentum) test::expect_close(gb, cb, "sgd momentum buffer");
    }
    for (const AdamUpdate& u : adam_cases()) {
      const Tensor cp = p.clone(), cm = b.clone(), cv = v.clone(), cvm = mul(v, 1.5);
      const Tensor gp = test::on_cuda(cp), gm = test::on_cuda(cm), gv = test::on_cuda(cv), gvm = test::on_cuda(cvm);
      kernels::adam_update(Device::cpu(), cp, g, cm, cv, u.amsgrad ? cvm : Tensor(), u);
      kernels::adam_update(Device::cuda(), gp, test::on_cuda(g), gm, gv, u.amsgrad ? gvm : Tensor(), u);
      test::expect_close(gp, cp, "adam param");
      test::expect_close(gm, cm, "adam exp_avg");
      test::expect_close(gv, cv, "adam exp_avg_sq");
      if (u.amsgrad) test::expect_close(gvm, cvm, "adam max_exp_avg_sq");
    }
    for (const LarsUpdate& u : lars_cases()) {
      const Tensor cp = p.clone(), cb = b.clone(), gp = test::on_cuda(p), gb = test::on_cuda(b);
      const Tensor cpu_ratio = zeros({}, {.dtype = DType::f64});
      const Tensor cuda_ratio = zeros({}, {.dtype = DType::f64, .device = Device::cuda()});
      kernels::lars_update(Device::cpu(), cp, g, cb, u, cpu_ratio);
      kernels::lars_update(Device::cuda(), gp, test::on_cuda(g), gb, u, cuda_ratio);
      CHECK(cuda_ratio.item() == doctest::Approx(cpu_ratio.item()).epsilon(1e-12));
      test::expect_close(gp, cp, "lars param");
      test::expect_close(gb, cb, "lars momentum buffer");
    }
  }
}

TEST_CASE("cuda optim parity: norm power sums and the infinity norm with NaN and scaling in place") {
  VIREO_REQUIRE_GPU();
  for (DType dtype : {DType::f64, DType::f32})
    for (int64_t n : {int64_t{1}, int64_t{1000}, int64_t{5000001}}) {
      CAPTURE(dtype);
      CAPTURE(n);
      const Tensor x = test::random_tensor({n}, dtype, 31);
      const Tensor gx = test::on_cuda(x);
      for (double power : {1.0, 2.0, 3.0, 0.5, static_cast<double>(INFINITY)}) {
        double cpu = 0.0, cuda = 0.0;
        kernels::norm_power_sum(Device::cpu(), x, power, cpu);
        kernels::norm_power_sum(Device::cuda(), gx, power, cuda);
        CHECK(cuda == doctest::Approx(cpu).epsilon(1e-12));
        // The same input twice: the same bits (a fixed reduction order).
        double again = 0.0;
        kernels::norm_power_sum(Device::cuda(), gx, power, again);
        CHECK(again == cuda);
      }
      const Tensor cx = x.clone();
      kernels::scale_in_place(Device::cpu(), cx, 0.37);
      kernels::scale_in_place(Device::cuda(), gx, 0.37);
      test::expect_close(gx, cx, "scale_in_place");
    }
  std::vector<double> values(3000, 1.0);
  values[1234] = std::numeric_limits<double>::quiet_NaN();
  double result = 0.0;
  kernels::norm_power_sum(Device::cuda(), test::on_cuda(Tensor::from_vector(values, {3000}, {DType::f32})), INFINITY, result);
  CHECK(std::isnan(result));
}

TEST_CASE("cuda optim parity: many-parameter SGD and Adam and LARS updates against the CPU across several launches") {
  VIREO_REQUIRE_GPU();
  // Sizes around the chunk (16,384), empty and one-element tensors, and one of 6 M elements (367 chunks:
  // more than a launch's 320 blocks), in both dtypes and with every item's own scalars: enough items to
  // need several launches per dtype.
  const std::vector<int64_t> sizes = {0, 1, 7, 16383, 16384, 16385, 100003, 6000000, 3, 40000};
  const std::vector<SgdUpdate> sgd = sgd_cases();
  const std::vector<AdamUpdate> adam = adam_cases();
  std::vector<kernels::SgdOperands> sgd_cpu, sgd_cuda;
  std::vector<kernels::AdamOperands> adam_cpu, adam_cuda;
  const std::vector<LarsUpdate> lars = lars_cases();
  std::vector<kernels::LarsOperands> lars_cpu, lars_cuda;
  uint64_t seed = 100;
  for (int copy = 0; copy < 4; ++copy)
    for (size_t k = 0; k < sizes.size(); ++k) {
      const DType dtype = (copy + k) % 2 == 0 ? DType::f32 : DType::f64;
      const int64_t n = sizes[k];
      const Tensor p = test::random_tensor({n}, dtype, seed++), g = test::random_tensor({n}, dtype, seed++),
                   b = test::random_tensor({n}, dtype, seed++), v = mul(p, p), v_max = mul(v, 1.5);
      const SgdUpdate& su = sgd[(copy * sizes.size() + k) % sgd.size()];
      const bool momentum = su.momentum != 0.0;
      sgd_cpu.push_back({p.clone(), g, momentum ? b.clone() : Tensor(), su});
      sgd_cuda.push_back({test::on_cuda(p), test::on_cuda(g), momentum ? test::on_cuda(b) : Tensor(), su});
      const AdamUpdate& au = adam[(copy * sizes.size() + k) % adam.size()];
      adam_cpu.push_back({p.clone(), g, b.clone(), v.clone(), au.amsgrad ? v_max.clone() : Tensor(), au});
      adam_cuda.push_back({test::on_cuda(p), test::on_cuda(g), test::on_cuda(b), test::on_cuda(v),
                           au.amsgrad ? test::on_cuda(v_max) : Tensor(), au});
      const LarsUpdate& lu = lars[(copy * sizes.size() + k) % lars.size()];
      lars_cpu.push_back({p.clone(), g, b.clone(), lu, zeros({}, {.dtype = DType::f64})});
      lars_cuda.push_back({test::on_cuda(p), test::on_cuda(g), test::on_cuda(b), lu,
                           zeros({}, {.dtype = DType::f64, .device = Device::cuda()})});
    }
  kernels::sgd_update_many(Device::cpu(), sgd_cpu);
  kernels::sgd_update_many(Device::cuda(), sgd_cuda);
  kernels::adam_update_many(Device::cpu(), adam_cpu);
  kernels::adam_update_many(Device::cuda(), adam_cuda);
  kernels::lars_update_many(Device::cpu(), lars_cpu);
  kernels::lars_update_many(Device::cuda(), lars_cuda);
  for (size_t i = 0; i < sgd_cpu.size(); ++i) {
    CAPTURE(i);
    test::expect_close(sgd_cuda[i].param, sgd_cpu[i].param, "sgd param");
    if (sgd_cpu[i].momentum_buffer.defined())
      test::expect_close(sgd_cuda[i].momentum_buffer, sgd_cpu[i].momentum_buffer, "sgd momentum buffer");
    test::expect_close(adam_cuda[i].param, adam_cpu[i].param, "adam param");
    test::expect_close(adam_cuda[i].exp_avg, adam_cpu[i].exp_avg, "adam exp_avg");
    test::expect_close(adam_cuda[i].exp_avg_sq, adam_cpu[i].exp_avg_sq, "adam exp_avg_sq");
    if (adam_cpu[i].max_exp_avg_sq.defined())
      test::expect_close(adam_cuda[i].max_exp_avg_sq, adam_cpu[i].max_exp_avg_sq, "adam max_exp_avg_sq");
    CHECK(lars_cuda[i].trust_ratio.item() == doctest::Approx(lars_cpu[i].trust_ratio.item()).epsilon(1e-12));
    test::expect_close(lars_cuda[i].param, lars_cpu[i].param, "lars param");
    test::expect_close(lars_cuda[i].momentum_buffer, lars_cpu[i].momentum_buffer, "lars momentum buffer");
  }
}
