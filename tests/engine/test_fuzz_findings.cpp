// Inputs that fuzzing (tools/fuzz) found to break the engine's parsers, each fed here byte for byte and
// answered with a clean vireo::Error. The same bytes are seeds of the fuzz corpora
// (tools/fuzz/corpus/<parser>/finding_*.bin), so `make test`'s fuzz smoke replays them too.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/io/safetensors.h"
#include "gradcheck.h"

using namespace vireo;
using vireo::testing::check_error;

// safetensors_fuzz: an empty tensor of shape [0, 2^62, 2^62] holds no bytes, so every size check passed,
// but its contiguous strides overflow 64 bits (UndefinedBehaviorSanitizer: signed integer overflow in
// contiguous_strides, engine/shape.cpp).
TEST_CASE("fuzz finding: a safetensors shape whose extents multiply past 64 bits is refused even when empty") {
  const std::string header =
      R"({"t":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}})";
  std::vector<uint8_t> input = {0x5e, 0, 0, 0, 0, 0, 0, 0};  // the header's length, 94
  REQUIRE(header.size() == 0x5e);
  input.insert(input.end(), header.begin(), header.end());
  check_error([&] { io::SafetensorsReader::from_bytes(input, "finding.safetensors"); },
              {"finding.safetensors", "tensor \"t\"", "passes 64 bits"});
  check_error([&] { io::deserialize_safetensors(input); }, {"passes 64 bits"});
  // The same extents after the zero, and a shape that is merely large, are told apart correctly.
  const auto one = [](const std::string& shape) {
    const std::string text = R"({"t":{"dtype":"U8","shape":)" + shape + R"(,"data_offsets":[0,0]}})";
    const std::string file = std::string(1, static_cast<char>(text.size())) + std::string(7, '\0') + text;
    return std::vector<uint8_t>(file.begin(), file.end());
  };
  CHECK_THROWS_AS(io::SafetensorsReader::from_bytes(one("[4611686018427387904,4611686018427387904,0]")), Error);
  const auto reader = io::SafetensorsReader::from_bytes(one("[0,4611686018427387904]"));
  CHECK(reader.shape("t") == Shape{0, 4611686018427387904});
  CHECK(reader.load("t").numel() == 0);
}
