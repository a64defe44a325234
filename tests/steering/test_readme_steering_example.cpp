// The code example of the README's "Steering" section, kept compiling and working here.
#include "engine/test_safetensors_helpers.h"
#include "steering/steering.h"
#include "steering_test_models.h"

using namespace vireo;

TEST_CASE("the README steering example fits composes and detaches") {
  vireo::testing::ScratchDirectory scratch;
  auto model = vireo::testing::tiny_vit(0);
  model->eval();
  auto batch = [](uint64_t seed, double mean) { return vireo::testing::random_normal({8, 3, 8, 8}, seed, mean); };
  const std::vector<Tensor> concept_batches{batch(1, 1.0)}, other_batches{batch(2, 0.0)};
  const std::vector<Tensor> class_a_batches{batch(3, -0.5)}, class_b_batches{batch(4, 0.5)};
  const Tensor images = batch(5, 0.0);
  const std::string path = scratch.file("aura.safetensors");
  NoGrad no_grad;
  const Tensor clean_logits = (*model)(images);
  // ---- as in README.md ----
  auto points = steering::select_points(*model, R"(blocks\.\d+\.mlp\.fc[12])");  // fc1, fc2 of every block
  // AurA: dampen each unit by how well it detects the concept (1 − Gini of its AUROC).
  steering::Intervention aura = steering::fit_aura(*model, points, concept_batches, other_batches);
  aura.save(path);  // safetensors; method, settings and points in __metadata__
  // Linear-AcT: per-unit affine maps transporting class A's responses toward class B's.
  steering::Intervention act = steering::fit_act(*model, points, class_a_batches, class_b_batches);
  auto attached_act = steering::attach(*model, act, /*strength=*/0.5);
  auto attached_aura = steering::attach(*model, steering::Intervention::load(path), 1.0);  // applies after act
  Tensor logits = (*model)(images);
  attached_aura.detach();
  attached_act.detach();  // the model computes exactly what it did before
  // ---- end of the example ----
  CHECK(aura.method == "aura");
  CHECK(act.points.size() == 4);
  CHECK_FALSE(vireo::testing::identical(logits, clean_logits));
  CHECK(vireo::testing::identical((*model)(images), clean_logits));
}
