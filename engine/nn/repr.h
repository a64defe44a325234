// Python-style spellings of values for the layers' extra_repr, so that a printed Vireo model reads like
// the same model printed by PyTorch: True/False, 1e-05, 0.1, (3, 3), (64,).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vireo::nn {

std::string repr_bool(bool value);                        // "True" / "False"
std::string repr_float(double value);                     // Python's repr of a float: "0.1", "1e-05", "1.0"
std::string repr_tuple(const std::vector<int64_t>& values);  // "(3, 3)", "(64,)"

}  // namespace vireo::nn
