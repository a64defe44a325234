// PCA and exact t-SNE of feature vectors (embedding.h), in f64 with Eigen.
#include "tools/report/embedding.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <random>

#include "engine/error.h"

namespace vireo::report {
namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Matrix to_matrix(const Tensor& features, const char* what, int64_t least_rows) {
  VIREO_CHECK(features.dim() == 2, what, ": features [N, D], got shape ", features.shape());
  VIREO_CHECK(features.size(0) >= least_rows, what, ": at least ", least_rows, " feature vectors, got ",
              features.size(0));
  const std::vector<double> values = features.contiguous().to_vector();
  Matrix matrix(features.size(0), features.size(1));
  std::copy(values.begin(), values.end(), matrix.data());
  return matrix;
}

// Row i of the conditional affinities p_{j|i} for squared distances d_j, with σ_i found by bisection on
// β = 1/2σ² so that the entropy H = log(perplexity) (natural log).
void conditional_affinities(const double* distances, int64_t count, int64_t self, double perplexity, double* row) {
  const double target_entropy = std::log(perplexity);
  double beta = 1.0, low = 0.0, high = std::numeric_limits<double>::infinity();
  for (int attempt = 0; attempt < 100; ++attempt) {
    // Shifted by the smallest distance so that exp never underflows to all zeros.
    double smallest = std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < count; ++j)
      if (j != self) smallest = std::min(smallest, distances[j]);
    double sum = 0.0, weighted = 0.0;
    for (int64_t j = 0; j < count; ++j) {
      row[j] = j == self ? 0.0 : std::exp(-beta * (distances[j] - smallest));
      sum += row[j];
      weighted += row[j] * (distances[j] - smallest);
    }
    // H = log Σ exp(−β d) + β ⟨d⟩ (with the shift, which cancels).
    const double entropy = std::log(sum) + beta * weighted / sum;
    for (int64_t j = 0; j < count; ++j) row[j] /= sum;
    if (std::abs(entropy - target_entropy) < 1e-5) return;
    if (entropy > target_entropy) {
      low = beta;
      beta = std::isinf(high) ? beta * 2.0 : (beta + high) / 2.0;
    } else {
      high = beta;
      beta = (beta + low) / 2.0;
    }
  }
}

}  // namespace

Points2d pca_2d(const Tensor& features) {
  Matrix x = to_matrix(features, "pca_2d", 2);
  x.rowwise() -= x.colwise().mean();
  const Matrix covariance = (x.transpose() * x) / static_cast<double>(x.rows());
  const Eigen::SelfAdjointEigenSolver<Matrix> solver(covariance);
  // Eigenvalues come in increasing order: the last two columns are the leading directions.
  const int64_t d = covariance.rows();
  Points2d points(static_cast<size_t>(x.rows()));
  for (int axis = 0; axis < 2; ++axis) {
    Eigen::VectorXd direction = d - 1 - axis >= 0 ? solver.eigenvectors().col(d - 1 - axis).eval()
                                                   : Eigen::VectorXd::Zero(d).eval();
    Eigen::Index largest = 0;
    direction.cwiseAbs().maxCoeff(&largest);
    if (direction(largest) < 0) direction = -direction;
    const Eigen::VectorXd projected = x * direction;
    for (Eigen::Index n = 0; n < x.rows(); ++n) points[static_cast<size_t>(n)][axis] = projected(n);
  }
  return points;
}

Points2d tsne_2d(const Tensor& features, const TsneOptions& options) {
  const Matrix x = to_matrix(features, "tsne_2d", 4);
  const int64_t n = x.rows();
  const double perplexity = std::min(options.perplexity, static_cast<double>(n - 1) / 3.0);

  // Squared distances ‖x_i − x_j‖² = ‖x_i‖² + ‖x_j‖² − 2 x_i·x_j, clamped at 0 against rounding.
  const Eigen::VectorXd norms = x.rowwise().squaredNorm();
  Matrix distances = (-2.0 * x * x.transpose()).colwise() + norms;
  distances.rowwise() += norms.transpose();
  distances = distances.cwiseMax(0.0);

  Matrix p(n, n);
  for (int64_t i = 0; i < n; ++i) conditional_affinities(&distances(i, 0), n, i, perplexity, &p(i, 0));
  p = (p + p.transpose()).eval() / (2.0 * static_cast<double>(n));
  p = p.cwiseMax(1e-12);

  std::mt19937_64 generator(options.seed);
  std::normal_distribution<double> normal(0.0, 1e-2);  // standard deviation 10⁻², variance 10⁻⁴
  Matrix y(n, 2), velocity = Matrix::Zero(n, 2), gains = Matrix::Ones(n, 2), gradient(n, 2);
  for (int64_t i = 0; i < n; ++i) y(i, 0) = normal(generator), y(i, 1) = normal(generator);

  const int64_t exaggerated = options.iterations / 4;
  Matrix kernel(n, n);
  for (int64_t iteration = 0; iteration < options.iterations; ++iteration) {
    const double exaggeration = iteration < exaggerated ? options.early_exaggeration : 1.0;
    const double momentum = iteration < exaggerated ? 0.5 : 0.8;
    // Student-t kernel (1 + ‖y_i − y_j‖²)⁻¹ and its sum over i ≠ j.
    double kernel_sum = 0.0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        const double dx = y(i, 0) - y(j, 0), dy = y(i, 1) - y(j, 1);
        kernel(i, j) = i == j ? 0.0 : 1.0 / (1.0 + dx * dx + dy * dy);
        kernel_sum += kernel(i, j);
      }
    for (int64_t i = 0; i < n; ++i) {
      double gx = 0.0, gy = 0.0;
      for (int64_t j = 0; j < n; ++j) {
        const double force = (exaggeration * p(i, j) - kernel(i, j) / kernel_sum) * kernel(i, j);
        gx += force * (y(i, 0) - y(j, 0));
        gy += force * (y(i, 1) - y(j, 1));
      }
      gradient(i, 0) = 4.0 * gx;
      gradient(i, 1) = 4.0 * gy;
    }
    // Gains grow where the gradient keeps flipping against the velocity (Jacobs 1988), as in the paper.
    for (int64_t i = 0; i < n; ++i)
      for (int axis = 0; axis < 2; ++axis) {
        const bool same_sign = (gradient(i, axis) > 0) == (velocity(i, axis) > 0);
        gains(i, axis) = std::max(0.01, same_sign ? gains(i, axis) * 0.8 : gains(i, axis) + 0.2);
        velocity(i, axis) = momentum * velocity(i, axis) - options.learning_rate * gains(i, axis) * gradient(i, axis);
        y(i, axis) += velocity(i, axis);
      }
    y.rowwise() -= y.colwise().mean();
  }
  Points2d points(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) points[static_cast<size_t>(i)] = {y(i, 0), y(i, 1)};
  return points;
}

}  // namespace vireo::report
