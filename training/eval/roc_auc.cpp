// ROC AUC by ranks (training/eval/roc_auc.h): one sort, ties given their mean rank.
#include "training/eval/roc_auc.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace vireo::eval {

double roc_auc(const std::vector<double>& positive_scores, const std::vector<double>& negative_scores) {
  const auto positives = static_cast<double>(positive_scores.size());
  const auto negatives = static_cast<double>(negative_scores.size());
  if (positive_scores.empty() || negative_scores.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::vector<std::pair<double, bool>> scores;  // (score, is positive)
  scores.reserve(positive_scores.size() + negative_scores.size());
  for (double score : positive_scores) scores.emplace_back(score, true);
  for (double score : negative_scores) scores.emplace_back(score, false);
  std::sort(scores.begin(), scores.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  // Ranks first … last (1-based) hold one tied score; each of them gets (first + last) / 2.
  double positive_rank_sum = 0.0;
  for (size_t first = 0; first < scores.size();) {
    size_t last = first;
    while (last + 1 < scores.size() && scores[last + 1].first == scores[first].first) ++last;
    const double mean_rank = 0.5 * static_cast<double>(first + last) + 1.0;
    for (size_t i = first; i <= last; ++i)
      if (scores[i].second) positive_rank_sum += mean_rank;
    first = last + 1;
  }
  return (positive_rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives);
}

}  // namespace vireo::eval
