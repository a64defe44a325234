// Checkpoints, the metrics log and the model EMA: exact round trips, damaged files refused with their
// path, a checkpoint of another model refused naming the key, the EMA update against its formula.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data_helpers.h"
#include "engine/io/safetensors.h"
#include "engine/nn/linear.h"
#include "engine/nn/normalization.h"
#include "engine/nn/container.h"
#include "engine/ops.h"
#include "gradcheck.h"
#include "run_helpers.h"
#include "training/checkpoint.h"
#include "training/metrics_log.h"
#include "training/model_ema.h"

using namespace vireo;
using namespace vireo::training;
using vireo::testing::check_error;
using vireo::testing::TempFolder;

namespace {

Tensor values(std::vector<double> data, const Shape& shape, DType dtype = DType::f32) {
  return Tensor::from_vector(data, shape, {.dtype = dtype});
}

Checkpoint sample_checkpoint() {
  Checkpoint checkpoint;
  checkpoint.model = {{"fc.weight", values({1, 2, 3, 4, 5, 6}, {2, 3})}, {"fc.bias", values({0.5, -0.5}, {2})}};
  checkpoint.optimizer = {{"state.0.momentum_buffer", values({0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, {2, 3})},
                          {"param_groups.0.lr", values({0.05}, {}, DType::f64)}};
  checkpoint.scheduler = {{"samples_seen", values({1280}, {}, DType::f64)}};
  checkpoint.ema = {{"fc.weight", values({6, 5, 4, 3, 2, 1}, {2, 3})}, {"fc.bias", values({0, 0}, {2})}};
  checkpoint.trainer = {{"loss_sum", values({1.25}, {}, DType::f64)}};
  checkpoint.rng_seed = 0xFEDCBA9876543210ull;  // above 2^63: must survive the trip through an i64
  checkpoint.rng_offset = 123456789012345ull;
  checkpoint.position = {.epoch = 2, .batch = 17, .samples_seen = 4321, .step = 99};
  checkpoint.metrics_bytes = 2048;
  checkpoint.recipe_yaml = "model:\n  name: resnet18\n";
  checkpoint.last_evaluation_json = R"({"test_top1":0.875})";
  return checkpoint;
}

void check_same(const StateDict& a, const StateDict& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& [name, tensor] : a) {
    INFO(name);
    REQUIRE(b.count(name));
    CHECK(b.at(name).dtype() == tensor.dtype());
    CHECK(b.at(name).shape() == tensor.shape());
    CHECK(b.at(name).to_vector() == tensor.to_vector());
  }
}

std::shared_ptr<nn::Sequential> small_model(int64_t hidden) {
  auto model = std::make_shared<nn::Sequential>();
  model->push_back(std::make_shared<nn::Linear>(3, hidden));
  model->push_back(std::make_shared<nn::BatchNorm1d>(hidden));
  model->push_back(std::make_shared<nn::Linear>(hidden, 2));
  return model;
}

}  // namespace

TEST_CASE("checkpoint: every section and counter survives a round trip exactly") {
  TempFolder folder("checkpoint_round_trip");
  const std::string path = folder / kCheckpointFile;
  const Checkpoint saved = sample_checkpoint();
  save_checkpoint(path, saved);
  const Checkpoint loaded = load_checkpoint(path);
  check_same(saved.model, loaded.model);
  check_same(saved.optimizer, loaded.optimizer);
  check_same(saved.scheduler, loaded.scheduler);
  check_same(saved.ema, loaded.ema);
  check_same(saved.trainer, loaded.trainer);
  CHECK(loaded.rng_seed == saved.rng_seed);
  CHECK(loaded.rng_offset == saved.rng_offset);
  CHECK(loaded.position == saved.position);
  CHECK(loaded.metrics_bytes == 2048);
  CHECK(loaded.recipe_yaml == saved.recipe_yaml);
  CHECK(loaded.last_evaluation_json == saved.last_evaluation_json);
  // The file is plain safetensors: the sections are prefixes, the recipe is metadata.
  const io::SafetensorsReader reader(path);
  CHECK(reader.contains("model.fc.weight"));
  CHECK(reader.contains("optimizer.state.0.momentum_buffer"));
  CHECK(reader.contains("ema.fc.bias"));
  CHECK(reader.contains("position.step"));
  CHECK(reader.dtype("rng.offset") == DType::i64);
  CHECK(reader.metadata().at("recipe") == saved.recipe_yaml);
  // Saving again replaces the file whole; no temporary is left beside it.
  save_checkpoint(path, saved);
  int64_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder.path)) files += entry.is_regular_file();
  CHECK(files == 1);
}

TEST_CASE("checkpoint: damaged and foreign files are refused with their path") {
  TempFolder folder("checkpoint_damaged");
  const std::string path = folder / kCheckpointFile;
  check_error([&] { load_checkpoint(path); }, {path.c_str(), "no checkpoint"});
  save_checkpoint(path, sample_checkpoint());
  const auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size - 10);  // a torn copy
  check_error([&] { load_checkpoint(path); }, {path.c_str()});
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << "not a safetensors file at all";
  }
  check_error([&] { load_checkpoint(path); }, {path.c_str()});
  // A valid safetensors file that no trainer wrote.
  io::save_safetensors(path, {{"weight", values({1, 2}, {2})}});
  check_error([&] { load_checkpoint(path); }, {path.c_str(), "not a Vireo training checkpoint"});
}

TEST_CASE("checkpoint: a checkpoint of another model is refused naming the key") {
  TempFolder folder("checkpoint_model");
  const std::string path = folder / kCheckpointFile;
  auto wide = small_model(8), narrow = small_model(4);
  check_error([&] { load_module_state(*narrow, wide->state_dict(), "model", path, "mlp"); },
              {path.c_str(), "model.0.bias has shape [8] in the checkpoint but [4]", "mlp"});
  StateDict missing = narrow->state_dict();
  missing.erase("2.bias");
  check_error([&] { load_module_state(*narrow, missing, "model", path, "mlp"); },
              {"model.2.bias is missing from the checkpoint"});
  StateDict extra = narrow->state_dict();
  extra["3.weight"] = values({1}, {1});
  check_error([&] { load_module_state(*narrow, extra, "ema", path, "mlp"); }, {"ema.3.weight", "has no place"});
  // A fitting state loads.
  auto other = small_model(4);
  load_module_state(*other, narrow->state_dict(), "model", path, "mlp");
  CHECK(other->state_dict().at("0.weight").to_vector() == narrow->state_dict().at("0.weight").to_vector());
}

TEST_CASE("checkpoint: temporaries left by a killed save are removed") {
  TempFolder folder("checkpoint_stale");
  const std::string path = folder / kCheckpointFile;
  { std::ofstream(folder / ".checkpoint.safetensors.tmp.999.0") << "half a file"; }
  { std::ofstream(folder / "metrics.jsonl") << "{}\n"; }
  remove_stale_checkpoint_temporaries(path);
  CHECK_FALSE(std::filesystem::exists(folder / ".checkpoint.safetensors.tmp.999.0"));
  CHECK(std::filesystem::exists(folder / "metrics.jsonl"));
}

TEST_CASE("metrics log: ordered JSON lines and a resume that cuts back to the checkpoint") {
  TempFolder folder("metrics_log");
  const std::string path = folder / "metrics.jsonl";
  int64_t after_two = 0;
  {
    MetricsLog log = MetricsLog::create(path);
    log.write(10, 0.5, {{"loss", 2.25}, {"lr", 0.1}});
    log.write(20, 1.0, {{"test_top1", 0.8125}});
    after_two = log.bytes();
    log.write(30, 1.5, {{"loss", 1.5}, {"lr", 0.05}});
  }
  const std::string first_line = "{\"step\":10,\"epoch\":0.5,\"loss\":2.25,\"lr\":0.1}\n";
  CHECK(vireo::testing::read_text(path).compare(0, first_line.size(), first_line) == 0);
  {
    MetricsLog log = MetricsLog::resume(path, after_two);  // the third line came after the checkpoint
    log.write(30, 1.5, {{"loss", 1.75}});
  }
  const std::vector<Metrics> lines = read_metrics(path);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == Metrics{{"step", 10}, {"epoch", 0.5}, {"loss", 2.25}, {"lr", 0.1}});
  CHECK(lines[1] == Metrics{{"step", 20}, {"epoch", 1.0}, {"test_top1", 0.8125}});
  CHECK(lines[2] == Metrics{{"step", 30}, {"epoch", 1.5}, {"loss", 1.75}});
  check_error([&] { MetricsLog::resume(path, 1 << 20); }, {path.c_str(), "does not belong to this checkpoint"});
  check_error([&] { MetricsLog::create(folder / "missing/metrics.jsonl"); }, {"missing/metrics.jsonl"});
}

TEST_CASE("model EMA: parameters follow the moving average and buffers are copied") {
  manual_seed(1);
  auto model = small_model(4), copy = small_model(4);
  ModelEma ema(*model, copy);
  CHECK(copy->state_dict().at("0.weight").to_vector() == model->state_dict().at("0.weight").to_vector());
  CHECK_FALSE(copy->is_training());
  CHECK_FALSE(copy->parameters().front().requires_grad());

  // Move the model: θ ← θ + 1 for every parameter, and a running mean to 3.
  const std::vector<double> before = model->state_dict().at("0.weight").to_vector();
  {
    NoGrad no_grad;
    for (Tensor parameter : model->parameters()) parameter.add_(ones_like(parameter));
    model->state_dict().at("1.running_mean").fill_(3.0);
  }
  const double rho = 0.75;
  ema.update(*model, rho);
  // θ_ema = ρ·θ_before + (1 − ρ)·(θ_before + 1) = θ_before + (1 − ρ).
  const std::vector<double> averaged = copy->state_dict().at("0.weight").to_vector();
  for (size_t i = 0; i < before.size(); ++i) CHECK(averaged[i] == doctest::Approx(before[i] + (1 - rho)).epsilon(1e-6));
  for (double mean : copy->state_dict().at("1.running_mean").to_vector()) CHECK(mean == 3.0);
  // ρ = 1 keeps the average; ρ = 0 copies the model.
  ema.update(*model, 1.0);
  CHECK(copy->state_dict().at("0.weight").to_vector() == averaged);
  ema.update(*model, 0.0);
  CHECK(copy->state_dict().at("0.weight").to_vector() == model->state_dict().at("0.weight").to_vector());
  check_error([&] { ema.update(*model, 1.5); }, {"momentum must lie in [0, 1]"});
  auto mismatched = small_model(5);
  check_error([&] { ModelEma(*model, mismatched); }, {"shape"});
}
