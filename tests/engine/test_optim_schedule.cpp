// Learning-rate schedules in samples seen: values at chosen sample counts against the formulas worked out
// here (linear warm-up, cosine midpoint, after the end, step milestones), cosine_ramp, the scheduler
// writing each group's lr from its base, its state round trip, argument errors, and the decay/no-decay
// parameter split.
#include <cmath>
#include <numbers>
#include <vector>

#include "engine/optim.h"
#include "gradcheck.h"

using namespace vireo;
using namespace vireo::optim;
using vireo::testing::check_error;

namespace {

Tensor leaf(const Shape& shape) {
  Tensor t = zeros(shape, {.dtype = DType::f64});
  t.requires_grad_();
  return t;
}

}  // namespace

TEST_CASE("cosine_ramp goes from start to end along half a cosine") {
  CHECK(cosine_ramp(0.996, 1.0, 0.0) == doctest::Approx(0.996).epsilon(1e-15));
  CHECK(cosine_ramp(0.996, 1.0, 1.0) == 1.0);
  CHECK(cosine_ramp(0.996, 1.0, 0.5) == doctest::Approx(0.998).epsilon(1e-15));
  // progress 1/3: cos(π/3) = 1/2, so the value is end + (start − end)·3/4
  CHECK(cosine_ramp(2.0, 0.0, 1.0 / 3.0) == doctest::Approx(1.5).epsilon(1e-14));
  CHECK(cosine_ramp(2.0, 0.0, -0.5) == 2.0);  // clamped
  CHECK(cosine_ramp(2.0, 0.0, 7.0) == 0.0);
}

TEST_CASE("constant and step schedules") {
  CHECK(ConstantSchedule().factor(0) == 1.0);
  CHECK(ConstantSchedule().factor(1 << 30) == 1.0);
  const StepSchedule step({1000, 3000}, 0.5);
  CHECK(step.factor(0) == 1.0);
  CHECK(step.factor(999) == 1.0);
  CHECK(step.factor(1000) == 0.5);  // a milestone counts once reached, as torch's MultiStepLR
  CHECK(step.factor(2999) == 0.5);
  CHECK(step.factor(3000) == 0.25);
  CHECK(step.factor(1'000'000) == 0.25);
}

TEST_CASE("warm-up then cosine at chosen sample counts") {
  const WarmupCosineSchedule schedule({.warmup_samples = 1000, .total_samples = 5000, .start_factor = 0.1,
                                       .final_factor = 0.02});
  // warm-up: 0.1 + 0.9·s/1000
  CHECK(schedule.factor(0) == doctest::Approx(0.1).epsilon(1e-15));
  CHECK(schedule.factor(250) == doctest::Approx(0.1 + 0.9 * 0.25).epsilon(1e-15));
  CHECK(schedule.factor(500) == doctest::Approx(0.55).epsilon(1e-15));
  // cosine from 1 at the end of warm-up to 0.02 at 5000; the midpoint (3000) is (1 + 0.02)/2
  CHECK(schedule.factor(1000) == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(schedule.factor(3000) == doctest::Approx(0.51).epsilon(1e-14));
  // a quarter of the way: 0.02 + 0.98·(1 + cos(π/4))/2
  CHECK(schedule.factor(2000) == doctest::Approx(0.02 + 0.98 * (1 + std::sqrt(0.5)) / 2).epsilon(1e-14));
  CHECK(schedule.factor(4999) > 0.02);
  CHECK(schedule.factor(5000) == 0.02);
  CHECK(schedule.factor(9000) == 0.02);
  // monotone: up during warm-up, down after
  for (int64_t s = 0; s < 1000; s += 100) CHECK(schedule.factor(s) < schedule.factor(s + 100));
  for (int64_t s = 1000; s < 5000; s += 100) CHECK(schedule.factor(s) > schedule.factor(s + 100));

  const WarmupCosineSchedule no_warmup({.total_samples = 100});
  CHECK(no_warmup.factor(0) == 1.0);
  CHECK(no_warmup.factor(50) == doctest::Approx(0.5).epsilon(1e-15));
  CHECK(no_warmup.factor(100) == 0.0);
}

TEST_CASE("schedules refuse bad arguments") {
  check_error([] { WarmupCosineSchedule({.warmup_samples = 10, .total_samples = 0}); },
              {"WarmupCosineSchedule", "total_samples 0"});
  check_error([] { WarmupCosineSchedule({.warmup_samples = 200, .total_samples = 100}); },
              {"WarmupCosineSchedule", "warmup_samples 200", "100"});
  check_error([] { WarmupCosineSchedule({.total_samples = 100, .final_factor = -0.5}); }, {"final_factor -0.5"});
  check_error([] { StepSchedule({300, 200}); }, {"StepSchedule", "300", "200"});
  check_error([] { StepSchedule({0}); }, {"StepSchedule", "milestone 0 is 0"});
  check_error([] { StepSchedule({10}, -1.0); }, {"StepSchedule", "gamma -1"});
}

TEST_CASE("LrScheduler writes each group's lr from its base lr") {
  Tensor a = leaf({2}), b = leaf({3});
  SGD sgd(std::vector<ParamGroup>{{.params = {a}, .lr = 0.4}, {.params = {b}, .lr = 0.1}}, {.momentum = 0.9});
  LrScheduler scheduler(sgd, WarmupCosineSchedule({.warmup_samples = 100, .total_samples = 300}));
  // At construction the rate for the first step is written: the warm-up starts at 0.
  CHECK(scheduler.base_lrs() == std::vector<double>{0.4, 0.1});
  CHECK(sgd.param_groups()[0].lr == 0.0);
  CHECK(sgd.param_groups()[1].lr == 0.0);
  scheduler.advance(25);
  CHECK(scheduler.samples_seen() == 25);
  CHECK(sgd.param_groups()[0].lr == doctest::Approx(0.4 * 0.25).epsilon(1e-15));
  CHECK(sgd.param_groups()[1].lr == doctest::Approx(0.1 * 0.25).epsilon(1e-15));
  scheduler.advance(175);  // 200: the cosine midpoint
  CHECK(sgd.param_groups()[0].lr == doctest::Approx(0.2).epsilon(1e-14));
  CHECK(sgd.param_groups()[1].lr == doctest::Approx(0.05).epsilon(1e-14));
  scheduler.set_samples_seen(50);
  CHECK(sgd.param_groups()[1].lr == doctest::Approx(0.05).epsilon(1e-15));
  CHECK(scheduler.factor() == doctest::Approx(0.5).epsilon(1e-15));
  check_error([&] { scheduler.advance(-1); }, {"LrScheduler", "batch_samples -1"});

  LrScheduler constant(sgd, ConstantSchedule());  // base lrs: the current ones
  CHECK(constant.base_lrs()[1] == doctest::Approx(0.05).epsilon(1e-15));
  sgd.add_param_group({.params = {leaf({1})}, .lr = 1.0});
  check_error([&] { constant.advance(1); }, {"LrScheduler", "3 param groups", "2 base learning rates"});
}

TEST_CASE("LrScheduler state round trip resumes the same rates") {
  auto make_optimizer = [] {
    return AdamW(std::vector<ParamGroup>{{.params = {leaf({2})}, .lr = 3e-4, .weight_decay = 0.05},
                                         {.params = {leaf({2})}, .lr = 1e-3}});
  };
  const auto schedule = std::make_shared<WarmupCosineSchedule>(
      WarmupCosineOptions{.warmup_samples = 512, .total_samples = 4096, .final_factor = 1e-3});
  AdamW a = make_optimizer();
  LrScheduler a_scheduler(a, schedule);
  for (int i = 0; i < 7; ++i) a_scheduler.advance(256);

  AdamW b = make_optimizer();
  b.param_groups()[0].lr = 123.0;  // whatever the new run starts from, the state decides
  LrScheduler b_scheduler(b, schedule);
  const StateDict state = a_scheduler.state_dict();
  CHECK(state.at("samples_seen").dim() == 0);
  CHECK(state.at("samples_seen").item() == 7 * 256);
  b_scheduler.load_state_dict(state);
  CHECK(b_scheduler.samples_seen() == 7 * 256);
  CHECK(b_scheduler.base_lrs() == a_scheduler.base_lrs());
  for (int i = 0; i < 5; ++i) {
    a_scheduler.advance(256);
    b_scheduler.advance(256);
    CHECK(b.param_groups()[0].lr == a.param_groups()[0].lr);
    CHECK(b.param_groups()[1].lr == a.param_groups()[1].lr);
  }

  StateDict bad = state;
  bad["base_lrs"] = Tensor::from_vector({1.0, 2.0, 3.0}, {3}, {.dtype = DType::f64});
  check_error([&] { b_scheduler.load_state_dict(bad); }, {"LrScheduler load_state_dict", "base_lrs", "2 param groups"});
  bad = state;
  bad.erase("samples_seen");
  check_error([&] { b_scheduler.load_state_dict(bad); }, {"missing key samples_seen"});
  bad = state;
  bad["samples_seen"] = scalar_tensor(-3.0, {.dtype = DType::f64});
  check_error([&] { b_scheduler.load_state_dict(bad); }, {"samples_seen is -3"});
  bad = state;
  bad["last_epoch"] = scalar_tensor(1.0);
  check_error([&] { b_scheduler.load_state_dict(bad); }, {"unexpected key last_epoch"});
  CHECK(b_scheduler.samples_seen() == 12 * 256);  // unchanged by the refused loads
}

TEST_CASE("split_decay_groups puts biases and normalization weights in an excluded no-decay group") {
  Tensor conv = leaf({4, 3, 3, 3}), bn_weight = leaf({4}), bn_bias = leaf({4}), fc = leaf({10, 4}),
         fc_bias = leaf({10}), odd_bias = leaf({2, 2});
  const NamedTensors named = {{"conv1.weight", conv}, {"bn1.weight", bn_weight}, {"bn1.bias", bn_bias},
                              {"fc.weight", fc},      {"fc.bias", fc_bias},      {"head.bias", odd_bias}};
  const std::vector<ParamGroup> groups = split_decay_groups(named, 0.2, 1.5e-6);
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].names == std::vector<std::string>{"conv1.weight", "fc.weight"});
  CHECK(groups[0].params[1].impl() == fc.impl());
  CHECK(groups[0].weight_decay == 1.5e-6);
  CHECK_FALSE(groups[0].exclude_from_adaptation);
  CHECK(groups[1].names == std::vector<std::string>{"bn1.weight", "bn1.bias", "fc.bias", "head.bias"});
  CHECK(groups[1].weight_decay == 0.0);
  CHECK(groups[1].exclude_from_adaptation);
  CHECK(groups[1].lr == 0.2);
  CHECK(lars_param_groups(named, 0.2, 1.5e-6)[1].names == groups[1].names);
  CHECK_FALSE(is_bias_or_norm("fc.notbias", fc));
  // A custom rule.
  const auto only_conv = split_decay_groups(named, 0.1, 0.01, [](const std::string& name, const Tensor&) {
    return name.rfind("conv", 0) != 0;
  });
  CHECK(only_conv[0].names == std::vector<std::string>{"conv1.weight"});
  CHECK(only_conv[1].params.size() == 5);
}
