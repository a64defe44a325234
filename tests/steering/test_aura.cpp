// AurA: AUROC by ranks against a brute-force count of pairs (ties counted half) on data with many ties,
// the α = 1 − Gini formula, Det0 and Damp on a hand example, and a fit on a passthrough model where one
// unit detects the concept perfectly.
#include "steering/aura.h"

#include "steering_test_models.h"

using namespace vireo;
using namespace vireo::steering;
using vireo::testing::check_close;
using vireo::testing::check_error;

namespace {

// P(positive > negative) + ½·P(positive = negative), by counting every pair.
double brute_force_auroc(const std::vector<double>& positive, const std::vector<double>& negative) {
  double wins = 0.0;
  for (double p : positive)
    for (double n : negative) wins += p > n ? 1.0 : (p == n ? 0.5 : 0.0);
  return wins / static_cast<double>(positive.size() * negative.size());
}

}  // namespace

TEST_CASE("auroc by ranks equals the brute-force pair count on tied data") {
  Generator generator(42);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t positives = 1 + trial, negatives = 3 + 2 * trial;
    // Integer scores 0..4: most values are tied with many others.
    const Tensor positive = randint(0, 5, {positives}, {.dtype = DType::i64}, &generator).to(DType::f64);
    const Tensor negative = randint(1, 5, {negatives}, {.dtype = DType::i64}, &generator).to(DType::f64);
    INFO("trial ", trial);
    CHECK(auroc(positive.to_vector(), negative.to_vector()) ==
          doctest::Approx(brute_force_auroc(positive.to_vector(), negative.to_vector())).epsilon(1e-12));
  }
  CHECK(auroc({3, 4}, {1, 2}) == 1.0);
  CHECK(auroc({1, 2}, {3, 4}) == 0.0);
  CHECK(auroc({2, 2, 2}, {2, 2}) == 0.5);
  check_error([] { auroc({}, {1}); }, {"auroc", "0 and 1"});
}

TEST_CASE("unit_auroc scores each column of the response tables") {
  // Unit 0 separates perfectly, unit 1 is reversed, unit 2 ties everywhere.
  const Tensor positive = Tensor::from_vector({5, 0, 1, 6, 1, 1}, {2, 3});
  const Tensor negative = Tensor::from_vector({1, 3, 1, 2, 4, 1, 0, 5, 1}, {3, 3});
  CHECK(unit_auroc(positive, negative) == std::vector<double>{1.0, 0.0, 0.5});
  check_error([] { unit_auroc(zeros({2, 3}), zeros({2, 4})); }, {"[2, 3]", "[2, 4]"});
}

TEST_CASE("aura scales are one minus Gini above 0.5 and Det0 and Damp hit the top k") {
  const std::vector<double> aurocs{0.5, 0.75, 1.0, 0.3, 0.9};
  const std::vector<double> aura = aura_scales(aurocs);
  const std::vector<double> expected{1.0, 0.5, 0.0, 1.0, 0.2};
  for (size_t unit = 0; unit < expected.size(); ++unit) CHECK(aura[unit] == doctest::Approx(expected[unit]).epsilon(1e-12));
  CHECK(aura_scales(aurocs, {.variant = AuraVariant::det0, .top_k = 2}) == std::vector<double>{1, 1, 0, 1, 0});
  CHECK(aura_scales(aurocs, {.variant = AuraVariant::damp, .top_k = 2}) == std::vector<double>{1, 1, 0.5, 1, 0.5});
  // Ties at the cut go to the lower unit index.
  CHECK(aura_scales({0.8, 0.8, 0.8}, {.variant = AuraVariant::det0, .top_k = 1}) == std::vector<double>{0, 1, 1});
  check_error([&] { aura_scales(aurocs, {.variant = AuraVariant::damp}); }, {"damp", "top_k"});
}

TEST_CASE("fit_aura silences a concept detector and leaves the other units alone") {
  auto model = vireo::testing::passthrough_model();
  // Tokens [N, 2, 3]; max over tokens is the response. Unit 0 fires (value 4) on the concept only; unit 1
  // is the same noise in both sets; unit 2 is higher on the negatives.
  const Tensor positive = Tensor::from_vector({4, 1, 0, 0, 2, 0, /**/ 0, 1, 0, 4, 3, 0}, {2, 2, 3});
  const Tensor negative = Tensor::from_vector({1, 1, 5, 0, 2, 0, /**/ 0, 1, 0, 1, 3, 5}, {2, 2, 3});
  const Intervention aura = fit_aura(*model, {"0"}, {positive}, {negative});
  CHECK(aura.method == "aura");
  CHECK(aura.settings.at("pooling") == "max");
  check_close(aura.at("0").scale, {0.0, 1.0, 1.0});
  check_close(aura.at("0").shift, {0.0, 0.0, 0.0});
  auto attached = attach(*model, aura, 1.0);
  NoGrad no_grad;
  check_close((*model)(positive), {0, 1, 0, 0, 2, 0, 0, 1, 0, 0, 3, 0});
  attached.detach();

  const Intervention damp =
      fit_aura(*model, {"0"}, {positive}, {negative}, {.variant = AuraVariant::damp, .top_k = 1});
  CHECK(damp.method == "damp");
  check_close(damp.at("0").scale, {0.5, 1.0, 1.0});
}
