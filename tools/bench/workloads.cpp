// The benchmark workloads (tools/bench/workloads.h): the four training steps of ../shared/bench/pytorch
// rebuilt from models/ and engine/optim, the step timer, and the SGEMM / FMA-peak measurements.
#include "tools/bench/workloads.h"

#include <omp.h>
#include <sys/resource.h>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/cuda/runtime.h"
#include "engine/error.h"
#include "engine/nn/container.h"
#include "engine/nn/conv.h"
#include "engine/nn/linear.h"
#include "engine/nn/mlp.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/sgd.h"
#include "engine/random.h"
#include "engine/storage.h"
#include "models/memory.h"
#include "models/resnet.h"
#include "models/unet.h"
#include "models/vit.h"

namespace vireo::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Python's statistics.median: the middle value, or the mean of the two middle ones.
double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

std::vector<double> load_average() {
  double loads[3] = {0, 0, 0};
  const int got = getloadavg(loads, 3);
  std::vector<double> out;
  for (int i = 0; i < got; ++i) out.push_back(std::round(loads[i] * 100.0) / 100.0);
  return out;
}

double round_to(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

int64_t count_elements(const std::vector<Tensor>& tensors) {
  int64_t total = 0;
  for (const Tensor& t : tensors) total += t.numel();
  return total;
}

// ---- forward FLOPs, counted as the scripts count them ----

// 2 × the multiply-adds of one image's forward pass through `model`: each Conv2d contributes
// out_elements·(in/groups)·kh·kw, each Linear out_elements·in_features, each attention layer its two
// products (ViT: 2·T²·D per block; UNet: 2·(HW)²·C). `run_one_image` calls the model on a batch of one;
// it runs in eval mode without gradients, and the model is left in training mode.
double forward_gflop_per_image(nn::Module& model, const std::function<void()>& run_one_image) {
  double multiply_adds = 0.0;
  std::vector<nn::HookHandle> handles;
  for (auto& [path, module] : model.named_modules()) {
    auto per_image = [](const Tensor& out) { return static_cast<double>(out.numel() / out.size(0)); };
    if (auto* conv = dynamic_cast<nn::Conv2d*>(module.get())) {
      const double per_output = static_cast<double>(conv->in_channels / conv->groups * conv->kernel_size.height *
                                                    conv->kernel_size.width);
      handles.push_back(model.register_forward_hook(
          path, [&, per_output, per_image](const Tensor& out) { multiply_adds += per_image(out) * per_output; }));
    } else if (auto* linear = dynamic_cast<nn::Linear*>(module.get())) {
      const double per_output = static_cast<double>(linear->in_features);
      handles.push_back(model.register_forward_hook(
          path, [&, per_output, per_image](const Tensor& out) { multiply_adds += per_image(out) * per_output; }));
    } else if (dynamic_cast<models::Attention*>(module.get())) {
      // [1, T, D]: Q·Kᵀ and P·V, each T·T·(D/H) per head over H heads.
      handles.push_back(model.register_forward_hook(path, [&](const Tensor& out) {
        const double tokens = static_cast<double>(out.size(1)), width = static_cast<double>(out.size(2));
        multiply_adds += 2.0 * tokens * tokens * width;
      }));
    } else if (dynamic_cast<models::SelfAttention2d*>(module.get())) {
      // [1, C, H, W]: one head of width C over the H·W positions.
      handles.push_back(model.register_forward_hook(path, [&](const Tensor& out) {
        const double positions = static_cast<double>(out.size(2) * out.size(3));
        multiply_adds += 2.0 * positions * positions * static_cast<double>(out.size(1));
      }));
    }
  }
  model.eval();
  {
    NoGrad no_grad;
    run_one_image();
  }
  model.train();
  for (nn::HookHandle& handle : handles) handle.remove();
  return 2.0 * multiply_adds / 1e9;
}

// ---- optimizers ----

struct OptimizerChoice {
  optim::SGDOptions sgd;
  optim::AdamWOptions adamw;
};

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& name, const std::vector<Tensor>& params,
                                                 const OptimizerChoice& settings) {
  if (name == "sgd") return std::make_unique<optim::SGD>(params, settings.sgd);
  return std::make_unique<optim::AdamW>(params, settings.adamw);
}

// ---- the workloads ----

// The phases of a step, for the memory breakdown: each workload's step calls reached(phase) when a phase
// ends; the runner installs a probe there for one untimed step (and nothing for the timed ones).
enum class Phase { zero_grad, forward, backward, optimizer };

// Where a workload runs: its device, and the 16-bit type its forward pass autocasts to (CUDA only).
struct Placement {
  Device device = Device::cpu();
  std::optional<DType> autocast;
};

// What the timer needs from a workload: one full training step, returning the loss (read with item(),
// which is also where the scripts wait for the step to finish).
class Workload {
 public:
  virtual ~Workload() = default;
  virtual double step() = 0;
  // The modules the step trains (the memory switches apply to these).
  virtual std::vector<nn::Module*> trained_modules() = 0;

  int64_t parameters = 0;
  double gflop_per_img = 0.0;
  double train_gflop_per_img = 0.0;
  std::function<void(Phase)> probe;

 protected:
  void reached(Phase phase) const {
    if (probe) probe(phase);
  }
};

// resnet18_cifar and vit_tiny: images -> logits -> cross-entropy against random labels.
class ClassifierWorkload : public Workload {
 public:
  ClassifierWorkload(std::shared_ptr<nn::Module> model, const std::string& optimizer, const OptimizerChoice& settings,
                     int64_t batch, Generator& generator, const Placement& placement)
      : model_(std::move(model)), autocast_(placement.autocast) {
    model_->to(placement.device);
    model_->train();
    images_ = randn({batch, 3, 32, 32}, {}, &generator).to(placement.device);
    labels_ = randint(0, 10, {batch}, {.dtype = DType::i64}, &generator).to(placement.device);
    const std::vector<Tensor> params = model_->parameters();
    optimizer_ = make_optimizer(optimizer, params, settings);
    parameters = count_elements(params);
    const Tensor one_image = images_.narrow(0, 0, 1);
    gflop_per_img = forward_gflop_per_image(*model_, [&] { (*model_)(one_image); });
    train_gflop_per_img = 3.0 * gflop_per_img;
  }

  double step() override {
    optimizer_->zero_grad();
    reached(Phase::zero_grad);
    Tensor loss;
    {
      Autocast autocast(autocast_);
      loss = cross_entropy((*model_)(images_), labels_);
    }
    reached(Phase::forward);
    loss.backward();
    reached(Phase::backward);
    optimizer_->step();
    reached(Phase::optimizer);
    return loss.item();
  }
  std::vector<nn::Module*> trained_modules() override { return {model_.get()}; }

 private:
  std::shared_ptr<nn::Module> model_;
  std::optional<DType> autocast_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  Tensor images_, labels_;
};

std::unique_ptr<Workload> resnet18_cifar(const std::string& optimizer, int64_t batch, Generator& generator,
                                         const Placement& placement) {
  auto model = models::resnet18({.num_classes = 10, .stem = models::Stem::cifar});
  return std::make_unique<ClassifierWorkload>(
      model, optimizer,
      OptimizerChoice{.sgd = {.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4},
                      .adamw = {.lr = 1e-3, .weight_decay = 0.05}},
      batch, generator, placement);
}

std::unique_ptr<Workload> vit_tiny(const std::string& optimizer, int64_t batch, int64_t depth, Generator& generator,
                                   const Placement& placement) {
  // The script's ViT: nn.LayerNorm's eps 1e-5 (not timm's 1e-6), MLP 4 × 192 = 768, qkv with bias.
  auto model = models::vit({.image_size = 32,
                            .in_channels = 3,
                            .patch_size = 4,
                            .depth = depth,
                            .width = 192,
                            .heads = 3,
                            .mlp_ratio = 4.0,
                            .qkv_bias = true,
                            .pooling = models::Pooling::cls,
                            .num_classes = 10,
                            .layer_norm_eps = 1e-5});
  return std::make_unique<ClassifierWorkload>(
      model, optimizer,
      OptimizerChoice{.sgd = {.lr = 0.05, .momentum = 0.9}, .adamw = {.lr = 1e-3, .weight_decay = 0.05}}, batch,
      generator, placement);
}

// ddpm_unet: ε-prediction on x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε, the noise drawn inside the timed step.
class DiffusionWorkload : public Workload {
 public:
  static constexpr int64_t timesteps = 1000;

  DiffusionWorkload(const std::string& optimizer, int64_t batch, Generator& generator, const Placement& placement)
      : model_(models::ddpm_unet()), generator_(generator), batch_(batch), device_(placement.device),
        autocast_(placement.autocast) {
    model_->to(device_);
    model_->train();
    // Linear β schedule 1e-4 .. 0.02 and ᾱ_t = Π_{s ≤ t} (1 − β_s).
    std::vector<double> alpha_bar(timesteps);
    double product = 1.0;
    for (int64_t t = 0; t < timesteps; ++t) {
      const double beta = 1e-4 + (0.02 - 1e-4) * static_cast<double>(t) / static_cast<double>(timesteps - 1);
      product *= 1.0 - beta;
      alpha_bar[t] = product;
    }
    alpha_bar_ = Tensor::from_vector(alpha_bar, {timesteps}).to(device_);
    clean_ = add(mul(rand({batch, 1, 28, 28}, {}, &generator), 2.0), -1.0).to(device_);  // U(−1, 1)
    const std::vector<Tensor> params = model_->parameters();
    optimizer_ = make_optimizer(optimizer, params,
                                {.sgd = {.lr = 0.01, .momentum = 0.9}, .adamw = {.lr = 2e-4, .weight_decay = 0.0}});
    parameters = count_elements(params);
    const Tensor one_image = clean_.narrow(0, 0, 1);
    const Tensor one_time = zeros({1}, {.dtype = DType::i64, .device = device_});
    gflop_per_img = forward_gflop_per_image(*model_, [&] { (*model_)(one_image, one_time); });
    train_gflop_per_img = 3.0 * gflop_per_img;
  }

  double step() override {
    // The timesteps are drawn on the host (as the script's torch.randint on the CPU generator) and sent over.
    const Tensor t = randint(0, timesteps, {batch_}, {.dtype = DType::i64}, &generator_).to(device_);
    const Tensor noise = randn_like(clean_, &generator_);
    const Tensor alpha_bar_t = index_select(alpha_bar_, 0, t).view({batch_, 1, 1, 1});
    const Tensor noisy = add(mul(sqrt(alpha_bar_t), clean_), mul(sqrt(1.0 - alpha_bar_t), noise));
    optimizer_->zero_grad();
    reached(Phase::zero_grad);
    Tensor loss;
    {
      Autocast autocast(autocast_);
      loss = mse_loss((*model_)(noisy, t), noise);
    }
    reached(Phase::forward);
    loss.backward();
    reached(Phase::backward);
    optimizer_->step();
    reached(Phase::optimizer);
    return loss.item();
  }
  std::vector<nn::Module*> trained_modules() override { return {model_.get()}; }

 private:
  std::shared_ptr<models::UNet> model_;
  Generator& generator_;
  int64_t batch_;
  Device device_;
  std::optional<DType> autocast_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  Tensor alpha_bar_, clean_;
};

// byol_resnet18: online (trunk + projector) and predictor trained, target = EMA of online.
//
//   loss = mean_i(2 − 2·⟨p̂(v1_i), ẑ(v2_i)⟩) + mean_i(2 − 2·⟨p̂(v2_i), ẑ(v1_i)⟩)   (hats: L2-normalized)
//   target ← τ·target + (1 − τ)·online (parameters),  target buffers ← online buffers
class BYOLWorkload : public Workload {
 public:
  static constexpr double tau = 0.996;

  BYOLWorkload(const std::string& optimizer, int64_t batch, Generator& generator, const Placement& placement)
      : batch_(batch), autocast_(placement.autocast) {
    online_ = make_online_network();
    predictor_ = make_mlp(256);
    // The target starts as a copy of online (the script's deepcopy) and is never trained.
    target_ = make_online_network();
    online_->to(placement.device);
    predictor_->to(placement.device);
    target_->to(placement.device);
    target_->load_state_dict(online_->state_dict());
    target_parameters_ = target_->parameters();
    for (Tensor& p : target_parameters_) p.requires_grad_(false);
    online_parameters_ = online_->parameters();
    online_buffers_ = online_->buffers();
    target_buffers_ = target_->buffers();
    online_->train();
    predictor_->train();
    target_->train();  // as the script: the target's BatchNorm uses batch statistics

    // Two views of `batch` images, concatenated into one 2B batch for both networks.
    views_ = cat({randn({batch, 3, 32, 32}, {}, &generator), randn({batch, 3, 32, 32}, {}, &generator)}, 0)
                 .to(placement.device);

    std::vector<Tensor> params = online_parameters_;
    for (const Tensor& p : predictor_->parameters()) params.push_back(p);
    optimizer_ = make_optimizer(optimizer, params,
                                {.sgd = {.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-5},
                                 .adamw = {.lr = 1e-3, .weight_decay = 1e-6}});
    parameters = count_elements(params);

    const Tensor one_view = views_.narrow(0, 0, 1);
    const double online_gflop = forward_gflop_per_image(*online_, [&] { (*online_)(one_view); });
    Tensor feature;
    {
      NoGrad no_grad;
      online_->eval();
      feature = (*online_)(one_view);
      online_->train();
    }
    const double predictor_gflop = forward_gflop_per_image(*predictor_, [&] { (*predictor_)(feature); });
    gflop_per_img = online_gflop + predictor_gflop;
    // Per sample: two views, each through online + predictor (forward and backward) and through the target.
    train_gflop_per_img = 2.0 * (3.0 * gflop_per_img + online_gflop);
  }

  double step() override {
    optimizer_->zero_grad();
    reached(Phase::zero_grad);
    Tensor prediction, projection;
    {
      Autocast autocast(autocast_);
      prediction = normalize((*predictor_)((*online_)(views_)), 2.0, 1);
      NoGrad no_grad;
      projection = normalize((*target_)(views_), 2.0, 1);
    }
    const int64_t b = batch_;
    auto pair_loss = [&](int64_t predicted_view, int64_t target_view) {
      const Tensor cosine = sum(mul(prediction.narrow(0, predicted_view * b, b), projection.narrow(0, target_view * b, b)), {1});
      return mean(2.0 - 2.0 * cosine);
    };
    Tensor loss = add(pair_loss(0, 1), pair_loss(1, 0));
    reached(Phase::forward);
    loss.backward();
    reached(Phase::backward);
    optimizer_->step();
    {
      NoGrad no_grad;
      for (size_t i = 0; i < target_parameters_.size(); ++i) {
        target_parameters_[i].mul_(tau);
        target_parameters_[i].add_(online_parameters_[i], 1.0 - tau);
      }
      for (size_t i = 0; i < target_buffers_.size(); ++i) target_buffers_[i].copy_(online_buffers_[i]);
    }
    reached(Phase::optimizer);
    return loss.item();
  }
  std::vector<nn::Module*> trained_modules() override { return {online_.get(), predictor_.get()}; }

 private:
  // Linear(in, 4096) -> BatchNorm1d -> ReLU -> Linear(4096, 256): the script's mlp().
  static std::shared_ptr<nn::MLP> make_mlp(int64_t in) {
    return std::make_shared<nn::MLP>(in, std::vector<int64_t>{4096, 256}, nn::MLPOptions{.norm = nn::MLPNorm::batch});
  }
  // CIFAR ResNet-18 without its classifier (fc an Identity: 512-d features), then the projector.
  static std::shared_ptr<nn::Sequential> make_online_network() {
    auto trunk = models::resnet18({.num_classes = 0, .stem = models::Stem::cifar});
    return std::make_shared<nn::Sequential>(trunk, make_mlp(512));
  }

  int64_t batch_;
  std::optional<DType> autocast_;
  std::shared_ptr<nn::Sequential> online_, target_;
  std::shared_ptr<nn::MLP> predictor_;
  std::vector<Tensor> online_parameters_, target_parameters_, online_buffers_, target_buffers_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  Tensor views_;
};

// One more (untimed) step with the allocator read at each phase's end: what is held then, and the peak
// within the phase. The first phase starts from the step's entry.
std::vector<PhaseMemory> measure_memory_phases(Workload& workload, Device device) {
  Allocator& allocator = allocator_for(device);
  std::vector<PhaseMemory> phases;
  allocator.reset_peak();
  workload.probe = [&](Phase phase) {
    static constexpr const char* names[] = {"zero_grad", "forward", "backward", "optimizer"};
    const MemoryStats stats = allocator.stats();
    phases.push_back({names[static_cast<int>(phase)], static_cast<double>(stats.bytes_in_use) / 1048576.0,
                      static_cast<double>(stats.peak_bytes_in_use) / 1048576.0});
    allocator.reset_peak();
  };
  workload.step();
  workload.probe = nullptr;
  return phases;
}

// The script's default optimizer for each workload.
std::string default_optimizer(const std::string& model) {
  return model == "resnet18_cifar" || model == "byol_resnet18" ? "sgd" : "adamw";
}

std::string joined_names() {
  std::string out;
  for (const std::string& name : model_bench_names()) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

const std::vector<std::string>& model_bench_names() {
  static const std::vector<std::string> names = {"resnet18_cifar", "vit_tiny", "ddpm_unet", "byol_resnet18"};
  return names;
}

BenchResult run_model_bench(const ModelBenchOptions& options) {
  const auto& names = model_bench_names();
  VIREO_CHECK(std::find(names.begin(), names.end(), options.model) != names.end(), "bench: unknown model '",
              options.model, "' (models: ", joined_names(), ")");
  VIREO_CHECK(options.batch >= 1, "bench: batch must be at least 1, got ", options.batch);
  VIREO_CHECK(options.steps >= 1, "bench: steps must be at least 1, got ", options.steps);
  VIREO_CHECK(options.warmup >= 0, "bench: warmup must be non-negative, got ", options.warmup);
  VIREO_CHECK(options.threads >= 1, "bench: threads must be at least 1, got ", options.threads);
  VIREO_CHECK(!options.depth || options.model == "vit_tiny", "bench: depth is an option of vit_tiny only, not of ",
              options.model);
  VIREO_CHECK(!options.depth || *options.depth >= 1, "bench: depth must be at least 1, got ", *options.depth);
  const std::string optimizer = options.optimizer.value_or(default_optimizer(options.model));
  VIREO_CHECK(optimizer == "sgd" || optimizer == "adamw", "bench: optimizer must be sgd or adamw, got '", optimizer,
              "'");

  VIREO_CHECK(!options.autocast || options.device.is_cuda(), "bench: --autocast ", *options.autocast,
              " needs --device cuda (the CPU kernels compute in f32)");
  if (options.device.is_cuda()) cuda::require_cuda(options.device.index);
  const Placement placement{options.device, options.autocast};

  omp_set_num_threads(options.threads);
  manual_seed(options.seed);
  Generator generator(options.seed);

  BenchResult result;
  result.model = options.model;
  result.optimizer = optimizer;
  result.batch = options.batch;
  result.steps = options.steps;
  result.warmup = options.warmup;
  result.threads = options.threads;
  result.device = options.device.str();
  if (options.autocast) result.autocast = std::string(name(*options.autocast));
  if (options.device.is_cuda())
    for (const cuda::DeviceInfo& info : cuda::cuda_devices())
      if (info.index == options.device.index) result.gpu = info.name;

  std::unique_ptr<Workload> workload;
  if (options.model == "resnet18_cifar") {
    workload = resnet18_cifar(optimizer, options.batch, generator, placement);
  } else if (options.model == "vit_tiny") {
    result.depth = options.depth.value_or(6);
    workload = vit_tiny(optimizer, options.batch, *result.depth, generator, placement);
  } else if (options.model == "ddpm_unet") {
    workload = std::make_unique<DiffusionWorkload>(optimizer, options.batch, generator, placement);
  } else {
    workload = std::make_unique<BYOLWorkload>(optimizer, options.batch, generator, placement);
  }

  const models::MemoryOptions& switches = options.memory_switches;
  if (switches.approx_bp || switches.ms_norm || switches.checkpoint != models::CheckpointGranularity::none) {
    models::MemoryReport changed;
    for (nn::Module* module : workload->trained_modules()) {
      const models::MemoryReport part = models::apply_memory_options(*module, switches);
      changed.approx_activations += part.approx_activations;
      changed.memory_sharing_norms += part.memory_sharing_norms;
      changed.checkpointed_blocks += part.checkpointed_blocks;
    }
    VIREO_CHECK(!switches.approx_bp || changed.approx_activations > 0, "bench: --approx-bp: ", options.model,
                " has no GELU or SiLU activation");
    VIREO_CHECK(!switches.ms_norm || changed.memory_sharing_norms > 0, "bench: --ms-norm: ", options.model,
                " has no LayerNorm that feeds a Linear");
    result.memory_switches = changed;
  }

  for (int64_t i = 0; i < options.warmup; ++i) workload->step();
  Allocator& allocator = allocator_for(options.device);
  if (options.memory_breakdown) result.memory_phases = measure_memory_phases(*workload, options.device);
  const size_t system_allocations_before = allocator.stats().system_allocations;
  for (int64_t i = 0; i < options.steps; ++i) {
    const auto start = Clock::now();
    result.final_loss = workload->step();
    result.step_seconds.push_back(seconds_since(start));
  }
  const MemoryStats memory = allocator.stats();

  const double batch = static_cast<double>(options.batch);
  const double median_seconds = median(result.step_seconds);
  const auto [fastest, slowest] = std::minmax_element(result.step_seconds.begin(), result.step_seconds.end());
  result.img_per_s = batch / median_seconds;
  result.img_per_s_min = batch / *slowest;
  result.img_per_s_max = batch / *fastest;
  result.step_ms_median = median_seconds * 1e3;
  result.parameters = workload->parameters;
  result.gflop_per_img = workload->gflop_per_img;
  result.train_gflop_per_img = workload->train_gflop_per_img;
  result.train_gflop_per_s = workload->train_gflop_per_img * result.img_per_s;
  result.peak_rss_mib = peak_rss_mib();
  result.peak_tensor_mib = static_cast<double>(memory.peak_bytes_in_use) / 1048576.0;
  result.system_allocations_timed = memory.system_allocations - system_allocations_before;
  result.load_average = load_average();
  return result;
}

std::string BenchResult::to_json() const {
  nlohmann::ordered_json j;
  j["model"] = model;
  if (depth) j["depth"] = *depth;
  j["optimizer"] = optimizer;
  j["batch"] = batch;
  j["threads"] = threads;
  j["device"] = device;
  if (gpu) j["gpu"] = *gpu;
  if (autocast) j["autocast"] = *autocast;
  j["steps"] = steps;
  j["warmup"] = warmup;
  j["params_m"] = round_to(static_cast<double>(parameters) / 1e6, 3);
  j["img_per_s"] = round_to(img_per_s, 2);
  j["img_per_s_min"] = round_to(img_per_s_min, 2);
  j["img_per_s_max"] = round_to(img_per_s_max, 2);
  j["step_ms_median"] = round_to(step_ms_median, 1);
  j["gflop_per_img"] = round_to(gflop_per_img, 4);
  j["train_gflop_per_img"] = round_to(train_gflop_per_img, 4);
  j["train_gflop_per_s"] = round_to(train_gflop_per_s, 1);
  j["peak_rss_mib"] = round_to(peak_rss_mib, 1);
  j["peak_tensor_mib"] = round_to(peak_tensor_mib, 1);
  j["system_allocations_timed"] = system_allocations_timed;
  if (memory_switches) {
    j["memory_switches"] = {{"approx_activations", memory_switches->approx_activations},
                            {"memory_sharing_norms", memory_switches->memory_sharing_norms},
                            {"checkpointed_blocks", memory_switches->checkpointed_blocks}};
  }
  if (!memory_phases.empty()) {
    nlohmann::ordered_json phases = nlohmann::ordered_json::object();
    for (const PhaseMemory& phase : memory_phases)
      phases[phase.name] = {{"held_mib", round_to(phase.held_mib, 2)}, {"peak_mib", round_to(phase.peak_mib, 2)}};
    j["memory_phases"] = phases;
  }
  j["final_loss"] = round_to(final_loss, 4);
  std::vector<double> step_ms;
  for (double s : step_seconds) step_ms.push_back(round_to(s * 1e3, 1));
  j["step_ms"] = step_ms;
  j["load_average"] = load_average;
  return j.dump();
}

// ---- SGEMM and the FMA peak ----

namespace {

// Independent accumulator chains, enough to cover the FMA latency (4 cycles) on two pipes several times.
constexpr int fma_chains = 16;

#if defined(__AVX512F__)
constexpr int fma_vector_floats = 16;
#elif defined(__AVX2__)
constexpr int fma_vector_floats = 8;
#else
constexpr int fma_vector_floats = 0;
#endif

// Runs `iterations` rounds of fma_chains independent vector FMAs, acc = acc·a + b, all from registers; the
// sum of the accumulators is returned so that the compiler cannot drop the work.
float fma_spin(int64_t iterations) {
#if defined(__AVX512F__)
  __m512 acc[fma_chains];
  for (int c = 0; c < fma_chains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-6f);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < fma_chains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  }
  // Summed through memory: GCC 12 warns inside its own _mm512_reduce_add_ps.
  float lanes[16];
  __m512 total = acc[0];
  for (int c = 1; c < fma_chains; ++c) total = _mm512_add_ps(total, acc[c]);
  _mm512_storeu_ps(lanes, total);
  float sum = 0;
  for (float v : lanes) sum += v;
  return sum;
#elif defined(__AVX2__)
  __m256 acc[fma_chains];
  for (int c = 0; c < fma_chains; ++c) acc[c] = _mm256_set1_ps(static_cast<float>(c));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-6f);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < fma_chains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  float lanes[8];
  __m256 total = acc[0];
  for (int c = 1; c < fma_chains; ++c) total = _mm256_add_ps(total, acc[c]);
  _mm256_storeu_ps(lanes, total);
  float sum = 0;
  for (float v : lanes) sum += v;
  return sum;
#else
  return static_cast<float>(iterations);
#endif
}

// GFLOP/s of `threads` threads each spinning `iterations` rounds at once (wall time of the whole region).
double fma_rate(int threads, int64_t iterations) {
  volatile float sink = 0.0f;
  const auto start = Clock::now();
#pragma omp parallel num_threads(threads)
  {
    const float value = fma_spin(iterations);
#pragma omp critical
    sink = sink + value;
  }
  const double seconds = seconds_since(start);
  const double flops = 2.0 * fma_vector_floats * fma_chains * static_cast<double>(iterations) * threads;
  return flops / seconds / 1e9;
}

}  // namespace

double measure_fma_peak_gflop_per_s(int threads, double seconds) {
  VIREO_CHECK(threads >= 1, "bench: threads must be at least 1, got ", threads);
  if (fma_vector_floats == 0) return 0.0;
  // Calibrate the iteration count on a short run, then keep the best of a few full-length runs: the peak
  // is what the cores do when nothing else interrupts them.
  const int64_t probe = 1 << 16;
  const double probe_rate = fma_rate(threads, probe);
  const double flops_per_iteration = 2.0 * fma_vector_floats * fma_chains * threads;
  const int64_t iterations = std::max<int64_t>(probe, static_cast<int64_t>(seconds * probe_rate * 1e9 / flops_per_iteration));
  double best = probe_rate;
  for (int rep = 0; rep < 3; ++rep) best = std::max(best, fma_rate(threads, iterations));
  return best;
}

GemmBenchResult run_gemm_bench(int64_t n, int threads) {
  VIREO_CHECK(n >= 1, "bench: gemm size must be at least 1, got ", n);
  VIREO_CHECK(threads >= 1, "bench: threads must be at least 1, got ", threads);
  omp_set_num_threads(threads);
  Generator generator(0);
  const Tensor a = randn({n, n}, {}, &generator), b = randn({n, n}, {}, &generator);
  NoGrad no_grad;
  auto call = [&] { return matmul(a, b); };
  call();  // warm-up: grows the packing buffers and the allocator's cache
  auto start = Clock::now();
  call();
  const double once = seconds_since(start);
  // Batches of calls long enough (~50 ms) for the clock to be exact; the median batch is the figure.
  const int per_batch = std::max(1, static_cast<int>(0.05 / std::max(once, 1e-9)));
  const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  std::vector<double> rates;
  for (int rep = 0; rep < 9; ++rep) {
    start = Clock::now();
    for (int i = 0; i < per_batch; ++i) call();
    rates.push_back(flops * per_batch / seconds_since(start) / 1e9);
  }
  GemmBenchResult result;
  result.n = n;
  result.threads = threads;
  result.gflop_per_s = median(rates);
  result.gflop_per_s_best = *std::max_element(rates.begin(), rates.end());
  result.fma_peak_gflop_per_s = measure_fma_peak_gflop_per_s(threads);
  result.vector_floats = fma_vector_floats;
  result.load_average = load_average();
  return result;
}

std::string GemmBenchResult::to_json() const {
  nlohmann::ordered_json j;
  j["gemm_n"] = n;
  j["threads"] = threads;
  j["gflop_per_s"] = round_to(gflop_per_s, 1);
  j["gflop_per_s_best"] = round_to(gflop_per_s_best, 1);
  j["fma_peak_gflop_per_s"] = round_to(fma_peak_gflop_per_s, 1);
  j["fraction_of_peak"] = round_to(fraction_of_peak(), 3);
  j["vector_floats"] = vector_floats;
  j["load_average"] = load_average;
  return j.dump();
}

}  // namespace vireo::bench
