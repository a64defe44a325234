// The area under the ROC curve of a score, computed exactly from ranks (the Mann–Whitney U statistic):
//
//   AUC = P(score of a random positive > score of a random negative) + ½ P(the two scores are equal)
//       = (R₊ − n₊(n₊ + 1)/2) / (n₊ · n₋)
//
// where R₊ is the sum of the positives' ranks among all n₊ + n₋ scores, ranked from 1 upwards, tied scores
// sharing the mean of the ranks they span — which counts every tied positive–negative pair as ½.
#pragma once

#include <vector>

namespace vireo::eval {

// NaN when either set is empty (the AUC is undefined).
double roc_auc(const std::vector<double>& positive_scores, const std::vector<double>& negative_scores);

}  // namespace vireo::eval
