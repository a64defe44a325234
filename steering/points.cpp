// Steering points (steering/points.h): selecting module paths and pooling their outputs into per-unit
// responses.
#include "steering/points.h"

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace vireo::steering {

namespace {

// Levenshtein distance between two strings: insertions, deletions and substitutions of one character.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(previous, current);
  }
  return previous[b.size()];
}

// The paths closest to `pattern` (read with its backslashes dropped, so `blocks\.3` reads `blocks.3`) by
// edit distance, for error messages.
std::string nearby_paths(const std::vector<std::string>& paths, const std::string& pattern) {
  std::string plain;
  for (char c : pattern)
    if (c != '\\') plain += c;
  std::vector<std::pair<size_t, std::string>> ranked;
  for (const std::string& path : paths) ranked.emplace_back(edit_distance(path, plain), path);
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> sorted;
  for (const auto& entry : ranked) sorted.push_back(entry.second);
  std::ostringstream out;
  const size_t shown = std::min<size_t>(sorted.size(), 6);
  for (size_t i = 0; i < shown; ++i) out << (i ? ", " : "") << sorted[i];
  if (sorted.size() > shown) out << ", … (" << sorted.size() << " paths)";
  return out.str();
}

// Thrown by a hook to end a forward pass whose remaining layers nobody needs; caught by collect_responses.
struct ForwardStopped {};

}  // namespace

std::vector<std::string> select_points(nn::Module& model, const std::string& pattern) {
  return select_points(model, std::vector<std::string>{pattern});
}

std::vector<std::string> select_points(nn::Module& model, const std::vector<std::string>& patterns) {
  std::vector<std::string> paths;
  for (const auto& [path, module] : model.named_modules())
    if (!path.empty()) paths.push_back(path);
  std::vector<bool> selected(paths.size(), false);
  for (const std::string& pattern : patterns) {
    std::regex expression;
    try {
      expression = std::regex(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& error) {
      fail("steering points: '", pattern, "' is not a valid regular expression (", error.what(), ")");
    }
    bool matched = false;
    for (size_t i = 0; i < paths.size(); ++i) {
      if (paths[i] == pattern || std::regex_match(paths[i], expression)) {
        selected[i] = true;
        matched = true;
      }
    }
    VIREO_CHECK(matched, "steering points: no module path matches '", pattern, "'; nearby paths: ",
                nearby_paths(paths, pattern));
  }
  std::vector<std::string> points;
  for (size_t i = 0; i < paths.size(); ++i)
    if (selected[i]) points.push_back(paths[i]);
  return points;
}

int64_t unit_dimension(const Tensor& output, const std::string& point) {
  VIREO_CHECK(output.dim() >= 2 && output.dim() <= 4, "steering point '", point, "': output ", describe(output),
              " is not [N, D], [N, T, D] or [N, C, H, W]");
  return output.dim() == 4 ? 1 : output.dim() - 1;
}

Tensor pool_responses(const Tensor& output, Pooling pooling, const std::string& point) {
  unit_dimension(output, point);
  if (output.dim() == 2) return output;
  if (output.dim() == 4) return output.mean({2, 3});
  return pooling == Pooling::mean ? output.mean({1}) : amax(output, {1});
}

ResponseCollector::ResponseCollector(nn::Module& model, std::vector<std::string> points, Pooling pooling)
    : points_(std::move(points)), pooling_(pooling) {
  for (const std::string& point : points_) {
    hooks_.push_back(model.register_forward_hook(point, [this, point](const Tensor& output) {
      NoGrad no_grad;
      if (blocks_.find(point) == blocks_.end()) order_seen_.push_back(point);
      blocks_[point].push_back(pool_responses(output.detach(), pooling_, point).to(Device::cpu()).to(DType::f64));
    }));
  }
}

ResponseCollector::~ResponseCollector() { remove(); }

void ResponseCollector::remove() {
  for (nn::HookHandle& hook : hooks_) hook.remove();
  hooks_.clear();
}

Tensor ResponseCollector::responses(const std::string& point) const {
  auto found = blocks_.find(point);
  VIREO_CHECK(found != blocks_.end(), "steering point '", point, "': no responses were collected there",
              " (it is not a collected point, or no forward pass reached it)");
  return cat(found->second, 0);
}

std::map<std::string, Tensor> collect_responses(nn::Module& model, const std::vector<std::string>& points,
                                                const std::vector<Tensor>& batches, Pooling pooling) {
  EvalMode eval_mode(model);
  ResponseCollector collector(model, points, pooling);
  // Registered after the collector's hooks, so each point's response is recorded before the pass can stop.
  const std::set<std::string> distinct(points.begin(), points.end());
  std::set<std::string> reached;
  ScopedHooks stops;
  for (const std::string& point : distinct)
    stops.add(model.register_forward_hook(point, [&reached, &distinct, point](const Tensor&) {
      reached.insert(point);
      if (reached.size() == distinct.size()) throw ForwardStopped{};
    }));
  NoGrad no_grad;
  for (const Tensor& batch : batches) {
    reached.clear();
    try {
      model(batch);
    } catch (const ForwardStopped&) {
    }
  }
  std::map<std::string, Tensor> responses;
  for (const std::string& point : points) responses[point] = collector.responses(point);
  return responses;
}

std::vector<std::string> points_in_model_order(nn::Module& model, const std::vector<std::string>& points,
                                               const Tensor& batch) {
  EvalMode eval_mode(model);
  ResponseCollector collector(model, points, Pooling::mean);
  {
    NoGrad no_grad;
    model(batch);
  }
  std::vector<std::string> order = collector.order_seen();
  for (const std::string& point : points)
    VIREO_CHECK(std::find(order.begin(), order.end(), point) != order.end(), "steering point '", point,
                "': a forward pass of ", describe(batch), " never reached it");
  return order;
}

}  // namespace vireo::steering
