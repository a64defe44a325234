// kNN classification on frozen features: hand-placed points whose answer is known, a case where the
// exp(s/T) weighting and plain votes disagree, agreement with a plain-loop reference on random features,
// chunked = unchunked, the documented tie rules, invariance to feature scale, and bad arguments.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <vector>

#include "gradcheck.h"
#include "training/eval/knn.h"

using namespace vireo;
using namespace vireo::eval;
using vireo::testing::check_error;

namespace {

// Unit vectors in the plane at the given angles (degrees): [N, 2].
Tensor at_angles(const std::vector<double>& degrees) {
  std::vector<double> values;
  for (double d : degrees) {
    values.push_back(std::cos(d * std::numbers::pi / 180.0));
    values.push_back(std::sin(d * std::numbers::pi / 180.0));
  }
  return Tensor::from_vector(values, {static_cast<int64_t>(degrees.size()), 2});
}

Tensor labels_of(const std::vector<double>& labels) {
  return Tensor::from_vector(labels, {static_cast<int64_t>(labels.size())}, {.dtype = DType::i64});
}

// The textbook algorithm in plain loops and doubles: cosine similarities, a stable sort (lower index
// first on ties), votes exp(s/T) or 1, and the class of largest score (lower class first on ties).
struct Reference {
  std::vector<int64_t> predictions;
  std::vector<std::vector<double>> scores;  // exp(s/T) sums, unscaled
  std::vector<double> nearest_similarity;
};
Reference reference_knn(const Tensor& train, const std::vector<double>& train_labels, const Tensor& test, int64_t k,
                        double temperature, bool weighted, int64_t classes) {
  const int64_t n = train.size(0), m = test.size(0), d = train.size(1);
  const std::vector<double> a = train.to_vector(), b = test.to_vector();
  auto norm = [d](const std::vector<double>& v, int64_t row) {
    double s = 0.0;
    for (int64_t j = 0; j < d; ++j) s += v[static_cast<size_t>(row * d + j)] * v[static_cast<size_t>(row * d + j)];
    return std::sqrt(s);
  };
  Reference out;
  for (int64_t q = 0; q < m; ++q) {
    std::vector<double> similarity(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      double dot = 0.0;
      for (int64_t j = 0; j < d; ++j) dot += b[static_cast<size_t>(q * d + j)] * a[static_cast<size_t>(i * d + j)];
      similarity[static_cast<size_t>(i)] = dot / (norm(b, q) * norm(a, i));
    }
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
      return similarity[static_cast<size_t>(x)] > similarity[static_cast<size_t>(y)];
    });
    std::vector<double> score(static_cast<size_t>(classes), 0.0);
    for (int64_t j = 0; j < std::min(k, n); ++j) {
      const int64_t neighbour = order[static_cast<size_t>(j)];
      score[static_cast<size_t>(train_labels[static_cast<size_t>(neighbour)])] +=
          weighted ? std::exp(similarity[static_cast<size_t>(neighbour)] / temperature) : 1.0;
    }
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c)
      if (score[static_cast<size_t>(c)] > score[static_cast<size_t>(best)]) best = c;
    out.predictions.push_back(best);
    out.scores.push_back(score);
    out.nearest_similarity.push_back(similarity[static_cast<size_t>(order[0])]);
  }
  return out;
}

std::vector<int64_t> as_integers(const Tensor& t) {
  std::vector<int64_t> out;
  for (double v : t.to_vector()) out.push_back(static_cast<int64_t>(v));
  return out;
}

}  // namespace

TEST_CASE("kNN on hand-placed points gives the nearest class") {
  // Class 0 around 0°, class 1 around 90°, class 2 around 200°.
  const Tensor train = at_angles({-5, 0, 8, 84, 90, 97, 195, 200, 210});
  const Tensor train_labels = labels_of({0, 0, 0, 1, 1, 1, 2, 2, 2});
  const Tensor test = at_angles({3, 80, 205, 140, 350});
  const Tensor test_labels = labels_of({0, 1, 2, 1, 0});
  const KnnResult result = knn_classify(train, train_labels, test, test_labels, {.k = 3});
  // 140° lies between 97° (class 1) and 195° (class 2); its three nearest are 97°, 90° and 195° (43°, 50°,
  // 55° away; 84° is 56° away), two votes of class 1.
  CHECK(as_integers(result.predictions) == std::vector<int64_t>{0, 1, 2, 1, 0});
  CHECK(result.top1 == 1.0);
  CHECK_FALSE(result.top5.has_value());  // three classes
  REQUIRE(result.class_scores.shape() == Shape{5, 3});
}

TEST_CASE("exp(s/T) weighting and plain votes disagree where one neighbour is much closer") {
  // Test point at 0°. Class 0: one neighbour at 2°. Class 1: two neighbours at 25° and 26°.
  const Tensor train = at_angles({2, 25, 26, 120, 150});
  const std::vector<double> labels = {0, 1, 1, 0, 0};
  const Tensor test = at_angles({0});
  const Tensor test_labels = labels_of({0});
  for (bool weighted : {true, false}) {
    INFO("weighted ", weighted);
    const Reference expected = reference_knn(train, labels, test, 3, 0.07, weighted, 2);
    const KnnResult result =
        knn_classify(train, labels_of(labels), test, test_labels, {.k = 3, .temperature = 0.07, .weighted = weighted});
    CHECK(result.predictions.item() == static_cast<double>(expected.predictions[0]));
    // Scores as documented: exp(s/T) sums scaled by exp(−s_max/T); 1 per vote when unweighted.
    const double scale = weighted ? std::exp(-expected.nearest_similarity[0] / 0.07) : 1.0;
    vireo::testing::check_close(result.class_scores,
                                {expected.scores[0][0] * scale, expected.scores[0][1] * scale}, 1e-5);
  }
  // The answers differ: one close vote outweighs two distant ones only when weighted.
  CHECK(reference_knn(train, labels, test, 3, 0.07, true, 2).predictions[0] == 0);
  CHECK(reference_knn(train, labels, test, 3, 0.07, false, 2).predictions[0] == 1);
}

TEST_CASE("kNN agrees with a plain-loop reference on random features with top-5") {
  Generator generator(7);
  const int64_t classes = 7;
  const Tensor train = randn({300, 12}, {}, &generator);
  const Tensor test = randn({80, 12}, {}, &generator);
  const Tensor train_labels = randint(0, classes, {300}, {.dtype = DType::i64}, &generator);
  const Tensor test_labels = randint(0, classes, {80}, {.dtype = DType::i64}, &generator);
  const std::vector<double> train_label_values = train_labels.to_vector(), truth = test_labels.to_vector();
  for (double temperature : {0.07, 0.5}) {
    INFO("T = ", temperature);
    const Reference expected = reference_knn(train, train_label_values, test, 20, temperature, true, classes);
    const KnnResult result = knn_classify(train, train_labels, test, test_labels, {.temperature = temperature});
    CHECK(as_integers(result.predictions) == expected.predictions);
    // top-1 and top-5 counted from the reference scores.
    int64_t top1 = 0, top5 = 0;
    for (size_t q = 0; q < truth.size(); ++q) {
      top1 += expected.predictions[q] == static_cast<int64_t>(truth[q]);
      const std::vector<double>& score = expected.scores[q];
      const double own = score[static_cast<size_t>(truth[q])];
      int64_t better = 0;  // classes ranked above the true one (larger score, or equal and lower index)
      for (int64_t c = 0; c < classes; ++c)
        better += score[static_cast<size_t>(c)] > own || (score[static_cast<size_t>(c)] == own && c < truth[q]);
      top5 += better < 5;
    }
    CHECK(result.top1 == doctest::Approx(static_cast<double>(top1) / 80.0));
    REQUIRE(result.top5.has_value());
    CHECK(*result.top5 == doctest::Approx(static_cast<double>(top5) / 80.0));
    CHECK(*result.top5 >= result.top1);
  }
}

TEST_CASE("kNN in chunks equals kNN in one block") {
  Generator generator(8);
  const Tensor train = randn({257, 16}, {}, &generator);
  const Tensor test = randn({101, 16}, {}, &generator);
  const Tensor train_labels = randint(0, 10, {257}, {.dtype = DType::i64}, &generator);
  const Tensor test_labels = randint(0, 10, {101}, {.dtype = DType::i64}, &generator);
  const KnnResult whole = knn_classify(train, train_labels, test, test_labels, {.chunk_size = 1000});
  for (int64_t chunk : {1, 7, 64}) {
    INFO("chunk ", chunk);
    const KnnResult chunked = knn_classify(train, train_labels, test, test_labels, {.chunk_size = chunk});
    CHECK(chunked.predictions.to_vector() == whole.predictions.to_vector());
    CHECK(chunked.top1 == whole.top1);
    CHECK(*chunked.top5 == *whole.top5);
    // Scores agree to f32 rounding: a one-row GEMM may sum in another order, and exp(s/T) amplifies a
    // similarity's rounding by 1/T.
    vireo::testing::check_close(chunked.class_scores, whole.class_scores.to_vector(), 1e-5);
  }
}

TEST_CASE("kNN ties go to the lower training index and then to the lower class") {
  // Two identical training points with labels 3 and 1: with k = 1 the lower index (label 3) is the neighbour.
  const Tensor train = at_angles({10, 10, 100});
  const Tensor test = at_angles({12});
  const KnnResult one = knn_classify(train, labels_of({3, 1, 0}), test, labels_of({3}), {.k = 1});
  CHECK(one.predictions.item() == 3.0);
  // With k = 2 both count equally: classes 1 and 3 tie, and the lower class wins.
  const KnnResult two = knn_classify(train, labels_of({3, 1, 0}), test, labels_of({1}), {.k = 2});
  CHECK(two.predictions.item() == 1.0);
  CHECK(two.top1 == 1.0);
}

TEST_CASE("kNN is invariant to the scale of the features and clamps k to the training set") {
  Generator generator(9);
  const Tensor train = randn({40, 5}, {}, &generator);
  const Tensor test = randn({10, 5}, {}, &generator);
  const Tensor train_labels = randint(0, 4, {40}, {.dtype = DType::i64}, &generator);
  const Tensor test_labels = randint(0, 4, {10}, {.dtype = DType::i64}, &generator);
  const KnnResult plain = knn_classify(train, train_labels, test, test_labels, {.k = 5});
  const KnnResult scaled = knn_classify(train * 37.0, train_labels, test * 0.01, test_labels, {.k = 5});
  CHECK(plain.predictions.to_vector() == scaled.predictions.to_vector());
  // k beyond the training set: every training example votes.
  const KnnResult everyone = knn_classify(train, train_labels, test, test_labels, {.k = 1000, .weighted = false});
  for (int64_t q = 0; q < 10; ++q) CHECK(sum(everyone.class_scores.select(0, q)).item() == 40.0);
}

TEST_CASE("kNN arguments are checked") {
  const Tensor train = zeros({4, 3}), test = zeros({2, 3});
  const Tensor train_labels = labels_of({0, 1, 0, 1}), test_labels = labels_of({0, 1});
  check_error([&] { knn_classify(train, train_labels, zeros({2, 4}), test_labels); }, {"knn_classify", "differ in width"});
  check_error([&] { knn_classify(train, labels_of({0, 1, 0}), test, test_labels); },
              {"knn_classify", "train labels", "i64 [4]"});
  check_error([&] { knn_classify(train, train_labels, test, labels_of({0, 5}), {.num_classes = 2}); },
              {"knn_classify", "label 5", "[0, 2)"});
  check_error([&] { knn_classify(train, train_labels, test, test_labels, {.k = 0}); }, {"k must be >= 1"});
  check_error([&] { knn_classify(train, train_labels, test, test_labels, {.temperature = 0.0}); }, {"temperature"});
  check_error([&] { knn_classify(train, train_labels.to(DType::f32), test, test_labels); }, {"train labels", "i64"});
}
