// Resuming with another global batch (data.batch_size × ranks), in one process: the checkpoint records the
// global batch it was written with, and the position within the epoch is re-expressed in the new batches —
// or refused, naming the keys, when it falls between two of them. (tests/dist/test_data_parallel.cpp
// resumes across rank counts with mpirun.)
#include "gradcheck.h"
#include "training/checkpoint.h"
#include "training/data_helpers.h"
#include "training/recipe.h"
#include "training/run_helpers.h"
#include "training/trainer.h"

using namespace vireo;
using namespace vireo::training;
using vireo::testing::TempFolder;

namespace {

Recipe tiny(const std::string& run_dir, const std::vector<std::string>& overrides) {
  // 96 synthetic images, 6 batches of 16 per epoch.
  return parse_recipe(vireo::testing::tiny_resnet_recipe(run_dir, /*epochs=*/1), "tiny.yaml", overrides);
}

}  // namespace

TEST_CASE("a checkpoint resumes with another global batch at the same example of the epoch") {
  TempFolder folder("dist_global_batch");
  const std::string run = folder / "run";
  train(tiny(run, {"run.stop_after_steps=2"}), {.progress = ProgressStyle::silent});  // 32 examples in
  CHECK(load_checkpoint(run + "/checkpoint.safetensors").trainer.at("global_batch_size").item() == 16);
  Trainer smaller(tiny(run, {"run.resume=true", "data.batch_size=8"}), {.progress = ProgressStyle::silent});
  CHECK(smaller.position().batch == 4);  // 32 examples = 4 batches of 8
  CHECK(smaller.position().samples_seen == 32);
  CHECK(smaller.position().step == 2);
}

TEST_CASE("a checkpoint between two of the new global batches is refused naming the batch size") {
  TempFolder folder("dist_global_batch_refused");
  const std::string run = folder / "run";
  train(tiny(run, {"run.stop_after_steps=1"}), {.progress = ProgressStyle::silent});  // 16 examples in
  CHECK_THROWS_WITH_AS(Trainer(tiny(run, {"run.resume=true", "data.batch_size=32"})),
                       doctest::Contains("16 examples into epoch 1, not a whole number of global batches of 32"),
                       Error);
}
