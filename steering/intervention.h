// Intervention: what a steering method fits — a per-unit affine map at each of a model's steering points —
// and how it is saved, attached to a model at a strength λ, and detached again.
//
// At a point with per-unit scale a and shift b (one entry per unit, steering/points.h), strength λ edits the
// point's output h by moving it the fraction λ of the way to the mapped value:
//
//   h ← h + λ·((a ⊙ h + b) − h)
//
// AurA is a = α, b = 0 (steering/aura.h); Linear-AcT is a = ω, b = β (steering/act.h). The maps broadcast
// over tokens ([N, T, D]: the last axis is the unit) and, for [N, C, H, W] maps, over positions in one of
// two forms (SpatialForm):
//
//   per_position   the edit above at every position of the channel                     (AurA)
//   mean_shift     only the channel's spatial mean m moves: h ← h + λ·((a·m + b) − m)    (Linear-AcT)
//
// An optional support [low, high] per unit restricts the edit to the elements with low < h < high (the
// rest stay as they are); Linear-AcT sets it to the range of the source responses.
//
// Exactness. λ = 0 leaves the model's outputs bit-identical (the hooks return the output untouched), and
// detaching removes the hooks, so the model computes exactly what it computed before. Several interventions
// attached to one model apply in the order they were attached (hooks run in registration order); at a point
// they share, the later one edits the earlier one's result.
//
// File format: safetensors (engine/io) with the tensors "<point>/scale", "<point>/shift" and, when there is
// a support, "<point>/support_low" and "<point>/support_high" (f32, [U]); "__metadata__" holds
// "vireo.format" = "intervention", "method", "spatial_form", "points" (a JSON list, in model order) and
// "settings" (a JSON object of strings). Written atomically.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/nn/module.h"
#include "engine/tensor.h"

namespace vireo::steering {

enum class SpatialForm { per_position, mean_shift };

// The per-unit affine map at one point. scale and shift are [U]; support_low/high both undefined (edit
// everywhere) or both [U].
struct UnitMap {
  Tensor scale;
  Tensor shift;
  Tensor support_low = {};
  Tensor support_high = {};

  int64_t units() const { return scale.numel(); }
  bool has_support() const { return support_low.defined(); }
};

struct Intervention {
  std::string method;                          // "aura", "det0", "damp", "act-linear", …
  std::map<std::string, std::string> settings;  // the fit's options, for the record
  SpatialForm spatial_form = SpatialForm::per_position;
  std::vector<std::pair<std::string, UnitMap>> points;  // in model order

  const UnitMap& at(const std::string& point) const;  // an Error naming the point when absent
  void add(const std::string& point, UnitMap map);     // checks the shapes; replaces an existing entry

  // Atomic write; load refuses a corrupt file or one that is not an intervention, naming the path.
  void save(const std::string& path) const;
  static Intervention load(const std::string& path);
};

// The hooks of one attached intervention; detach() removes them (again is a no-op). Destroying the handle
// does not detach, as with nn::HookHandle, so an intervention can stay attached for a model's lifetime.
class AttachedIntervention {
 public:
  AttachedIntervention() = default;
  explicit AttachedIntervention(std::vector<nn::HookHandle> hooks) : hooks_(std::move(hooks)) {}
  void detach();
  bool attached() const;

 private:
  std::vector<nn::HookHandle> hooks_;
};

// Hooks `intervention` into `model` at strength λ (finite; 0 → 1 interpolates from the model to the full
// map). Every point must be a module path of `model`; a point whose output has a different unit count than
// the map fails at the forward pass, naming the point and both shapes.
AttachedIntervention attach(nn::Module& model, const Intervention& intervention, double strength);

// Attached for the life of a scope, detached however the scope ends (fits that steer while they collect).
class ScopedAttachment {
 public:
  ScopedAttachment(nn::Module& model, const Intervention& intervention, double strength)
      : attached_(attach(model, intervention, strength)) {}
  ~ScopedAttachment() { attached_.detach(); }
  ScopedAttachment(const ScopedAttachment&) = delete;
  ScopedAttachment& operator=(const ScopedAttachment&) = delete;

 private:
  AttachedIntervention attached_;
};

// The edit of one point's output (the hook's body), exposed for tests and for methods that apply maps
// themselves.
Tensor apply_unit_map(const Tensor& output, const UnitMap& map, SpatialForm form, double strength,
                      const std::string& point);

}  // namespace vireo::steering
