// The pieces of data-parallel training that run in one process: synchronized BatchNorm against the
// fused layer, f64 gradient checks of the differentiable collectives and of the synchronized layer, the
// bucketed gradient reducer, and the loader's shards. A "twin" communicator stands for two ranks that
// hold identical values (a sum over them doubles, a gather repeats), so the cross-rank arithmetic is
// checked here without mpirun; tests/dist/test_data_parallel.cpp runs the real thing.
#include <cstring>

#include "engine/nn/normalization.h"
#include "engine/ops.h"
#include "gradcheck.h"
#include "training/data/loader.h"
#include "training/data/synthetic.h"
#include "training/dist/collectives.h"
#include "training/dist/communicator.h"
#include "training/dist/gradient_reducer.h"
#include "training/dist/sync_batch_norm.h"

using namespace vireo;
using namespace vireo::training;
using vireo::testing::check_close;
using Inputs = std::vector<Tensor>;

namespace {

// Two ranks holding the same values as this process: all_reduce_sum doubles, all_gather repeats.
class TwinCommunicator final : public dist::Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string backend() const override { return "twin"; }
  void all_reduce_sum(void* values, int64_t count, DType dtype) override {
    ++reductions;
    for (int64_t i = 0; i < count; ++i) {
      if (dtype == DType::f32) static_cast<float*>(values)[i] *= 2.0f;
      if (dtype == DType::f64) static_cast<double*>(values)[i] *= 2.0;
      if (dtype == DType::i64) static_cast<int64_t*>(values)[i] *= 2;
    }
  }
  std::unique_ptr<dist::PendingReduction> start_all_reduce_sum(void* values, int64_t count, DType dtype) override {
    all_reduce_sum(values, count, dtype);
    return dist::SingleProcessCommunicator().start_all_reduce_sum(values, count, dtype);
  }
  void broadcast(void*, int64_t, int) override {}
  void all_gather(const void* sent, void* received, int64_t bytes) override {
    std::memcpy(received, sent, static_cast<size_t>(bytes));
    std::memcpy(static_cast<char*>(received) + bytes, sent, static_cast<size_t>(bytes));
  }
  [[noreturn]] void abort(int code) override { std::exit(code); }
  int reductions = 0;
};

Tensor random_f64(const Shape& shape, uint64_t seed) {
  Generator generator(seed);
  return randn(shape, {.dtype = DType::f64}, &generator);
}

}  // namespace

TEST_CASE("synchronized BatchNorm over one replica matches the fused layer: output and gradients and running stats") {
  for (const Shape& shape : {Shape{6, 3, 4, 5}, Shape{6, 3}}) {
    INFO("input ", shape);
    const bool planar = shape.size() == 4;
    std::shared_ptr<nn::BatchNorm> fused, synchronized;
    if (planar) {
      fused = std::make_shared<nn::BatchNorm2d>(3);
      synchronized = std::make_shared<nn::BatchNorm2d>(3);
    } else {
      fused = std::make_shared<nn::BatchNorm1d>(3);
      synchronized = std::make_shared<nn::BatchNorm1d>(3);
    }
    fused->to(DType::f64);
    synchronized->to(DType::f64);
    synchronized->set_replica_sum([](const Tensor& x) { return x; });
    CHECK(synchronized->is_synchronized());
    const Tensor weights = random_f64({3}, 7), bias = random_f64({3}, 8);
    for (auto& layer : {fused, synchronized}) {
      layer->weight.detach().copy_(weights);
      layer->bias.detach().copy_(bias);
    }
    for (int step = 0; step < 2; ++step) {  // twice: the running statistics accumulate
      Tensor x = mul(add(random_f64(shape, 11 + step), 0.5), 3.0);
      Tensor x_fused = x.detach().requires_grad_(), x_synchronized = x.detach().clone().requires_grad_();
      const Tensor target = random_f64(shape, 21);
      const Tensor y_fused = (*fused)(x_fused), y_synchronized = (*synchronized)(x_synchronized);
      check_close(y_synchronized, y_fused.to_vector(), 1e-10);
      sum(mul(y_fused, target)).backward();
      sum(mul(y_synchronized, target)).backward();
      check_close(x_synchronized.grad(), x_fused.grad().to_vector(), 1e-9);
      check_close(synchronized->weight.grad(), fused->weight.grad().to_vector(), 1e-9);
      check_close(synchronized->bias.grad(), fused->bias.grad().to_vector(), 1e-9);
      fused->zero_grad();
      synchronized->zero_grad();
    }
    check_close(synchronized->running_mean, fused->running_mean.to_vector(), 1e-12);
    check_close(synchronized->running_var, fused->running_var.to_vector(), 1e-12);
    CHECK(synchronized->num_batches_tracked.item() == fused->num_batches_tracked.item());
  }
}

TEST_CASE("synchronized BatchNorm over twin replicas counts both batches in the running variance") {
  TwinCommunicator twins;
  nn::BatchNorm1d layer(2, {.momentum = 1.0});  // running stats = the latest batch's
  layer.to(DType::f64);
  CHECK(dist::synchronize_batch_norm(layer, twins) == 1);
  const Tensor x = Tensor::from_vector({1.0, 10.0, 3.0, 20.0}, {2, 2}, {.dtype = DType::f64});
  layer(x);
  // Four examples (two per twin): mean (2, 15), biased variance (1, 25), unbiased × 4/3.
  check_close(layer.running_mean, {2.0, 15.0}, 1e-12);
  check_close(layer.running_var, {4.0 / 3.0, 100.0 / 3.0}, 1e-12);
  CHECK(twins.reductions == 2);  // the sums with the count, then the squared deviations
}

TEST_CASE("f64 gradcheck: synchronized BatchNorm2d and BatchNorm1d") {
  // The input's gradient (through both rounds of statistics); the affine parameters' are compared with the
  // fused layer's above.
  for (const Shape& shape : {Shape{3, 2, 3, 2}, Shape{5, 3}}) {
    INFO("input ", shape);
    std::shared_ptr<nn::BatchNorm> layer;
    if (shape.size() == 4) layer = std::make_shared<nn::BatchNorm2d>(2);
    else layer = std::make_shared<nn::BatchNorm1d>(3);
    layer->to(DType::f64);
    layer->weight.detach().copy_(random_f64({shape[1]}, 4));
    layer->bias.detach().copy_(random_f64({shape[1]}, 5));
    layer->set_replica_sum([](const Tensor& x) { return x; });
    CHECK_GRADCHECK([&](const Inputs& in) { return (*layer)(in[0]); }, Inputs{random_f64(shape, 3).requires_grad_()});
  }
}

TEST_CASE("all_reduce_sum and all_gather over twin replicas: values and gradients") {
  TwinCommunicator twins;
  // y = x_0 + x_1 = 2x, and every rank's loss reads y: the finite differences of one rank's view agree.
  CHECK_GRADCHECK([&](const Inputs& in) { return dist::all_reduce_sum(in[0], twins); },
                  Inputs{random_f64({3, 2}, 9).requires_grad_()});
  const Tensor x = random_f64({3, 2}, 9).requires_grad_();
  const Tensor gathered = dist::all_gather(x, twins);
  CHECK(gathered.shape() == Shape{6, 2});
  check_close(slice(gathered, 0, 3, 6), x.to_vector(), 1e-15);
  // L_s = Σ gathered on both ranks: each reads rank 0's rows once, so ∂(L_0 + L_1)/∂x_0 = 2.
  sum(gathered).backward();
  check_close(x.grad(), std::vector<double>(6, 2.0), 1e-15);
}

TEST_CASE("f64 gradcheck: all_gather and all_reduce_sum over a single process") {
  dist::SingleProcessCommunicator single;
  const Tensor x = random_f64({4}, 10).requires_grad_();
  CHECK_GRADCHECK([&](const Inputs& in) { return dist::all_gather(in[0], single); }, Inputs{x});
  CHECK_GRADCHECK([&](const Inputs& in) { return dist::all_reduce_sum(in[0], single); }, Inputs{x});
  check_close(dist::all_reduce_sum(x, single), x.to_vector(), 1e-15);
}

TEST_CASE("the gradient reducer sums every gradient over the ranks in buckets and leaves absent ones absent") {
  TwinCommunicator twins;
  std::vector<Tensor> parameters;
  for (int64_t i = 0; i < 5; ++i) parameters.push_back(random_f64({100 + i}, 30 + static_cast<uint64_t>(i)).requires_grad_());
  // 800 bytes a bucket: each parameter (800-832 bytes of f64) gets a bucket of its own, but one.
  dist::GradientReducer reducer(parameters, twins, /*bucket_bytes=*/840);
  CHECK(reducer.bucket_count() == 5);
  for (size_t i = 0; i < parameters.size(); ++i)
    if (i != 2) parameters[i].set_grad(full(parameters[i].shape(), static_cast<double>(i) + 0.5, {.dtype = DType::f64}));
  reducer.reduce();
  for (size_t i = 0; i < parameters.size(); ++i) {
    INFO("parameter ", i);
    if (i == 2) {
      CHECK_FALSE(parameters[i].grad().defined());
    } else {
      check_close(parameters[i].grad(), std::vector<double>(static_cast<size_t>(parameters[i].numel()), 2.0 * i + 1.0), 1e-15);
    }
  }
  CHECK(twins.reductions == 5);
}

TEST_CASE("module hashes tell identical models from different ones") {
  nn::BatchNorm1d first(4), second(4);
  CHECK(dist::module_hash(first) == dist::module_hash(second));
  second.running_mean.detach().fill_(0.25);
  CHECK(dist::module_hash(first) != dist::module_hash(second));
  dist::SingleProcessCommunicator single;
  dist::check_identical_across_ranks(second, single, "a single process");  // nothing to compare with
}

TEST_CASE("the shards of a batch are disjoint slices that together make the unsharded batch") {
  auto dataset = std::make_shared<data::SyntheticDataset>(
      data::SyntheticOptions{.size = 23, .num_classes = 3, .height = 6, .width = 6, .seed = 4});
  const data::Pipeline flip = data::make_pipeline({{.name = "random_horizontal_flip", .options = {}}});
  const data::LoaderOptions whole{.batch_size = 10, .workers = 0, .seed = 5};
  data::DataLoader unsharded(dataset, {flip}, whole);
  for (int64_t batch = 0; batch < unsharded.batches_per_epoch(); ++batch) {  // 10, 10, then 3 examples
    const data::Batch expected = unsharded.load(1, batch);
    std::vector<int64_t> indices;
    std::vector<Tensor> views;
    for (int64_t shard = 0; shard < 3; ++shard) {
      data::LoaderOptions options = whole;
      options.shard = shard;
      options.shards = 3;
      const data::Batch part = data::DataLoader(dataset, {flip}, options).load(1, batch);
      CHECK(part.global_size == expected.size());
      CHECK(part.size() == expected.size() / 3 + (shard < expected.size() % 3 ? 1 : 0));
      indices.insert(indices.end(), part.indices.begin(), part.indices.end());
      views.push_back(part.views[0]);
    }
    CHECK(indices == expected.indices);
    check_close(cat(views, 0), expected.views[0].to_vector(), 1e-15);
  }
  data::LoaderOptions too_many = whole;
  too_many.shards = 4;  // the last batch of 3 cannot feed 4 shards
  CHECK_THROWS_WITH_AS(data::DataLoader(dataset, {flip}, too_many), doctest::Contains("shards empty"), Error);
}
