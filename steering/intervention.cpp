// Interventions (steering/intervention.h): the per-unit affine edit, attaching it through forward hooks,
// and the safetensors file.
#include "steering/intervention.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "steering/points.h"

namespace vireo::steering {

namespace {

const char* spatial_form_name(SpatialForm form) {
  return form == SpatialForm::per_position ? "per_position" : "mean_shift";
}

// A [U] tensor of the map shaped to broadcast against `output` along its unit axis, in its dtype and device.
Tensor along_units(const Tensor& values, const Tensor& output) {
  Tensor shaped = values.to(output.dtype()).to(output.device());
  return output.dim() == 4 ? shaped.reshape({values.numel(), 1, 1}) : shaped;
}

// x + λ·((a ⊙ x + b) − x), restricted to low < x < high when the map has a support.
Tensor interpolate_toward_map(const Tensor& x, const UnitMap& map, double strength, const Tensor& like) {
  Tensor mapped = along_units(map.scale, like) * x + along_units(map.shift, like);
  Tensor edited = x + strength * (mapped - x);
  if (!map.has_support()) return edited;
  Tensor inside = gt(x, along_units(map.support_low, like)) * lt(x, along_units(map.support_high, like));
  return where(inside, edited, x);
}

void check_unit_tensor(const Tensor& tensor, const char* name, const std::string& point, int64_t units) {
  VIREO_CHECK(tensor.defined() && tensor.dim() == 1 && tensor.numel() == units, "intervention point '", point,
              "': ", name, " must be [", units, "], got ", tensor.defined() ? describe(tensor) : "undefined");
}

}  // namespace

const UnitMap& Intervention::at(const std::string& point) const {
  for (const auto& [name, map] : points)
    if (name == point) return map;
  fail("intervention (", method, "): no map at point '", point, "'");
}

void Intervention::add(const std::string& point, UnitMap map) {
  check_unit_tensor(map.scale, "scale", point, map.scale.defined() ? map.scale.numel() : 0);
  check_unit_tensor(map.shift, "shift", point, map.units());
  VIREO_CHECK(map.support_low.defined() == map.support_high.defined(), "intervention point '", point,
              "': support_low and support_high must both be set or both unset");
  if (map.has_support()) {
    check_unit_tensor(map.support_low, "support_low", point, map.units());
    check_unit_tensor(map.support_high, "support_high", point, map.units());
  }
  for (auto& [name, existing] : points) {
    if (name == point) {
      existing = std::move(map);
      return;
    }
  }
  points.emplace_back(point, std::move(map));
}

Tensor apply_unit_map(const Tensor& output, const UnitMap& map, SpatialForm form, double strength,
                      const std::string& point) {
  const int64_t axis = unit_dimension(output, point);
  VIREO_CHECK(output.size(axis) == map.units(), "intervention point '", point, "': output ", describe(output),
              " has ", output.size(axis), " units on axis ", axis, " but the map has ", map.units(), " (scale ",
              describe(map.scale), ")");
  if (output.dim() == 4 && form == SpatialForm::mean_shift) {
    // Only the channel mean moves: h ← h + [edited(m) − m], a per-channel shift.
    Tensor channel_mean = output.mean({2, 3}, /*keepdim=*/true);
    return output + (interpolate_toward_map(channel_mean, map, strength, output) - channel_mean);
  }
  return interpolate_toward_map(output, map, strength, output);
}

void AttachedIntervention::detach() {
  for (nn::HookHandle& hook : hooks_) hook.remove();
  hooks_.clear();
}

bool AttachedIntervention::attached() const {
  for (const nn::HookHandle& hook : hooks_)
    if (hook.active()) return true;
  return false;
}

AttachedIntervention attach(nn::Module& model, const Intervention& intervention, double strength) {
  VIREO_CHECK(std::isfinite(strength), "attach (", intervention.method, "): strength ", strength, " is not finite");
  for (const auto& [point, map] : intervention.points) model.find(point);  // every path exists, or an Error
  std::vector<nn::HookHandle> hooks;
  for (const auto& [point, map] : intervention.points) {
    hooks.push_back(model.register_forward_hook(
        point, [point, map, form = intervention.spatial_form, strength](const Tensor& output) -> Tensor {
          if (strength == 0.0) return Tensor();  // keep the output itself: λ = 0 is bit-exact
          return apply_unit_map(output, map, form, strength, point);
        }));
  }
  return AttachedIntervention(std::move(hooks));
}

void Intervention::save(const std::string& path) const {
  StateDict tensors;
  nlohmann::json point_names = nlohmann::json::array();
  for (const auto& [point, map] : points) {
    point_names.push_back(point);
    tensors[point + "/scale"] = map.scale.to(DType::f32);
    tensors[point + "/shift"] = map.shift.to(DType::f32);
    if (map.has_support()) {
      tensors[point + "/support_low"] = map.support_low.to(DType::f32);
      tensors[point + "/support_high"] = map.support_high.to(DType::f32);
    }
  }
  io::SafetensorsMetadata metadata{{"vireo.format", "intervention"},
                                   {"method", method},
                                   {"spatial_form", spatial_form_name(spatial_form)},
                                   {"points", point_names.dump()},
                                   {"settings", nlohmann::json(settings).dump()}};
  io::save_safetensors(path, tensors, metadata);
}

Intervention Intervention::load(const std::string& path) {
  io::SafetensorsFile file = io::load_safetensors(path);  // refuses a corrupt file, naming the path
  const io::SafetensorsMetadata& metadata = file.metadata;
  auto entry = [&](const char* key) -> const std::string& {
    auto found = metadata.find(key);
    VIREO_CHECK(found != metadata.end(), path, ": not a Vireo intervention (no '", key, "' in __metadata__)");
    return found->second;
  };
  VIREO_CHECK(entry("vireo.format") == "intervention", path, ": not a Vireo intervention (vireo.format is '",
              entry("vireo.format"), "')");
  Intervention intervention;
  intervention.method = entry("method");
  const std::string& form = entry("spatial_form");
  VIREO_CHECK(form == "per_position" || form == "mean_shift", path, ": unknown spatial_form '", form, "'");
  intervention.spatial_form = form == "per_position" ? SpatialForm::per_position : SpatialForm::mean_shift;
  nlohmann::json point_names, settings;
  try {
    point_names = nlohmann::json::parse(entry("points"));
    settings = nlohmann::json::parse(entry("settings"));
    intervention.settings = settings.get<std::map<std::string, std::string>>();
    VIREO_CHECK(point_names.is_array(), path, ": __metadata__ 'points' is not a JSON list");
  } catch (const nlohmann::json::exception& error) {
    fail(path, ": malformed intervention metadata (", error.what(), ")");
  }
  size_t expected_tensors = 0;
  for (const nlohmann::json& name : point_names) {
    VIREO_CHECK(name.is_string(), path, ": __metadata__ 'points' holds a non-string entry");
    const std::string point = name.get<std::string>();
    auto tensor = [&](const std::string& suffix, bool required) -> Tensor {
      auto found = file.tensors.find(point + "/" + suffix);
      VIREO_CHECK(found != file.tensors.end() || !required, path, ": point '", point, "' has no tensor '",
                  point + "/" + suffix, "'");
      if (found == file.tensors.end()) return Tensor();
      ++expected_tensors;
      return found->second;
    };
    UnitMap map{tensor("scale", true), tensor("shift", true), tensor("support_low", false),
                tensor("support_high", false)};
    try {
      intervention.add(point, std::move(map));
    } catch (const Error& error) {
      fail(path, ": ", error.what());
    }
  }
  VIREO_CHECK(expected_tensors == file.tensors.size(), path, ": holds ", file.tensors.size(),
              " tensors but its points account for ", expected_tensors);
  return intervention;
}

}  // namespace vireo::steering
