// The Fréchet distance between two feature sets (training/eval/frechet.h), with Eigen's symmetric
// eigensolver for the matrix square roots.
#include "training/eval/frechet.h"

#include <Eigen/Dense>

#include <algorithm>

#include "engine/error.h"

namespace vireo::eval {

namespace {

using Matrix = Eigen::MatrixXd;
using Vector = Eigen::VectorXd;

Matrix as_matrix(const Tensor& features) {
  const std::vector<double> values = features.to_vector();
  Matrix matrix(features.size(0), features.size(1));
  for (int64_t row = 0; row < features.size(0); ++row)
    for (int64_t column = 0; column < features.size(1); ++column)
      matrix(row, column) = values[static_cast<size_t>(row * features.size(1) + column)];
  return matrix;
}

// S^{1/2} of a symmetric positive semi-definite S: V diag(√max(λ, 0)) Vᵀ.
Matrix symmetric_square_root(const Matrix& symmetric) {
  const Eigen::SelfAdjointEigenSolver<Matrix> solver(symmetric);
  const Vector roots = solver.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  return solver.eigenvectors() * roots.asDiagonal() * solver.eigenvectors().transpose();
}

}  // namespace

double frechet_distance(const Tensor& features_a, const Tensor& features_b) {
  VIREO_CHECK(features_a.defined() && features_b.defined() && features_a.dim() == 2 && features_b.dim() == 2 &&
                  features_a.size(1) == features_b.size(1) && features_a.size(0) >= 2 && features_b.size(0) >= 2,
              "frechet_distance: expects features [N, D] and [M, D] with N, M >= 2, got ",
              features_a.defined() ? describe(features_a) : "undefined", " and ",
              features_b.defined() ? describe(features_b) : "undefined");
  const Matrix a = as_matrix(features_a), b = as_matrix(features_b);
  const Vector mean_a = a.colwise().mean(), mean_b = b.colwise().mean();
  const Matrix centered_a = a.rowwise() - mean_a.transpose(), centered_b = b.rowwise() - mean_b.transpose();
  const Matrix covariance_a = centered_a.transpose() * centered_a / static_cast<double>(a.rows() - 1);
  const Matrix covariance_b = centered_b.transpose() * centered_b / static_cast<double>(b.rows() - 1);
  // Tr((Σ_a Σ_b)^{1/2}) = Σ √λ_i of Σ_a^{1/2} Σ_b Σ_a^{1/2}, which is symmetric.
  const Matrix root_a = symmetric_square_root(covariance_a);
  Matrix middle = root_a * covariance_b * root_a;
  middle = (middle + middle.transpose()) / 2.0;  // exactly symmetric despite rounding
  const Eigen::SelfAdjointEigenSolver<Matrix> solver(middle, Eigen::EigenvaluesOnly);
  const double trace_root = solver.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();
  const double distance = (mean_a - mean_b).squaredNorm() + covariance_a.trace() + covariance_b.trace() - 2.0 * trace_root;
  return std::max(distance, 0.0);
}

}  // namespace vireo::eval
