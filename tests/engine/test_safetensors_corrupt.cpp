// Safetensors files that must be refused: each corrupt file is written to disk and loaded, and the error
// must name the file's path and the specific fault.
#include <limits>

#include "test_safetensors_helpers.h"

using namespace vireo;
using namespace vireo::io;
using vireo::testing::bytes_of;
using vireo::testing::check_error;
using vireo::testing::length_prefix;
using vireo::testing::safetensors_bytes;
using vireo::testing::ScratchDirectory;
using vireo::testing::write_bytes;

namespace {

// Writes `bytes` to a fresh file and checks that both load_safetensors and SafetensorsReader refuse it with
// a message naming the path and containing every fragment.
void check_refused(const std::vector<uint8_t>& bytes, std::initializer_list<const char*> fragments) {
  ScratchDirectory directory;
  const std::string path = directory.file("corrupt.safetensors");
  write_bytes(path, bytes);
  std::vector<const char*> all{"SafetensorsReader", path.c_str()};
  all.insert(all.end(), fragments.begin(), fragments.end());
  for (bool lazy : {false, true}) {
    INFO(std::string(lazy ? "SafetensorsReader" : "load_safetensors"));
    try {
      if (lazy) SafetensorsReader reader(path);
      else load_safetensors(path);
      FAIL("expected a vireo::Error");
    } catch (const Error& error) {
      const std::string message = error.what();
      INFO("message: ", message);
      for (const char* fragment : all) CHECK(message.find(fragment) != std::string::npos);
    }
  }
}

// A one-tensor header with the given entry for tensor "t".
std::string one_tensor(const std::string& entry) { return R"({"t":)" + entry + "}"; }

const std::vector<uint8_t> kEightBytes(8, 0);

}  // namespace

TEST_CASE("safetensors refuses a file too short for the header length") {
  check_refused({}, {"0 bytes long", "too short"});
  check_refused({1, 2, 3, 4, 5}, {"5 bytes long", "too short"});
}

TEST_CASE("safetensors refuses a header length over 100 MB") {
  std::vector<uint8_t> bytes = length_prefix(100'000'001);
  bytes.push_back('{');
  check_refused(bytes, {"header length 100000001", "exceeds the limit of 100000000 bytes"});
}

TEST_CASE("safetensors refuses a header length beyond the file") {
  std::vector<uint8_t> bytes = length_prefix(64);
  const std::string header = "{}";
  bytes.insert(bytes.end(), header.begin(), header.end());
  check_refused(bytes, {"header length 64", "runs past the end of the file (10 bytes)"});
  check_refused(length_prefix(std::numeric_limits<uint64_t>::max()), {"exceeds the limit"});
}

TEST_CASE("safetensors refuses a header that is not UTF-8") {
  check_refused(safetensors_bytes(one_tensor("{\"dtype\":\"F\xff\"}"), {}), {"not valid UTF-8", "byte 16"});
  // An overlong encoding of '/' (0xC0 0xAF) is not UTF-8 either.
  check_refused(safetensors_bytes("{\"\xC0\xAF\":1}", {}), {"not valid UTF-8", "byte 2"});
}

TEST_CASE("safetensors refuses a header that is not JSON") {
  check_refused(safetensors_bytes(R"({"t":{"dtype":"F32",)", {}), {"not valid JSON"});
  check_refused(safetensors_bytes(R"({"t":{}} trailing)", {}), {"not valid JSON"});
  check_refused(safetensors_bytes(R"([1, 2])", {}), {"not a JSON object but array"});
}

TEST_CASE("safetensors refuses an entry that is not an object") {
  check_refused(safetensors_bytes(R"({"t":3})", {}), {"tensor \"t\"", "not a JSON object but 3"});
  check_refused(safetensors_bytes(one_tensor(R"({"dtype":"F32","shape":[1]})"), kEightBytes),
                {"tensor \"t\"", "no \"data_offsets\""});
}

TEST_CASE("safetensors refuses unknown and unsupported dtypes") {
  check_refused(safetensors_bytes(one_tensor(R"({"dtype":"F33","shape":[1],"data_offsets":[0,4]})"), {0, 0, 0, 0}),
                {"tensor \"t\"", "unknown dtype \"F33\""});
  check_refused(safetensors_bytes(one_tensor(R"({"dtype":"I8","shape":[1],"data_offsets":[0,1]})"), {0}),
                {"tensor \"t\"", "dtype I8 is not supported"});
  check_refused(safetensors_bytes(one_tensor(R"({"dtype":32,"shape":[1],"data_offsets":[0,4]})"), {0, 0, 0, 0}),
                {"\"dtype\" is not a string"});
}

TEST_CASE("safetensors refuses a shape with negative or non-integer extents") {
  check_refused(safetensors_bytes(one_tensor(R"({"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]})"), kEightBytes),
                {"tensor \"t\"", "shape [2,-1] has a negative extent"});
  check_refused(safetensors_bytes(one_tensor(R"({"dtype":"F32","shape":[2.5],"data_offsets":[0,8]})"), kEightBytes),
                {"tensor \"t\"", "shape [2.5] has an extent that is not an integer"});
  check_refused(safetensors_bytes(one_tensor(R"({"dtype":"F32","shape":"2","data_offsets":[0,8]})"), kEightBytes),
                {"\"shape\" is not an array"});
  check_refused(
      safetensors_bytes(one_tensor(R"({"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]})"),
                        kEightBytes),
      {"tensor \"t\"", "more bytes than 64 bits can count"});
}

TEST_CASE("safetensors refuses data_offsets that are not a begin end pair") {
  check_refused(safetensors_bytes(one_tensor(R"({"dtype":"U8","shape":[8],"data_offsets":[0,4,8]})"), kEightBytes),
                {"tensor \"t\"", "data_offsets [0,4,8] is not a pair [begin, end]"});
  check_refused(safetensors_bytes(one_tensor(R"({"dtype":"U8","shape":[8],"data_offsets":[-1,7]})"), kEightBytes),
                {"data_offsets [-1,7] is not a pair"});
  check_refused(safetensors_bytes(one_tensor(R"({"dtype":"U8","shape":[0],"data_offsets":[8,0]})"), kEightBytes),
                {"tensor \"t\"", "data_offsets [8,0] begin after they end"});
}

TEST_CASE("safetensors refuses a shape that does not match its byte range") {
  check_refused(safetensors_bytes(one_tensor(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"), kEightBytes),
                {"tensor \"t\"", "shape [3] of F32 needs 12 bytes, but data_offsets [0,8] span 8"});
}

TEST_CASE("safetensors refuses overlapping tensors") {
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  check_refused(safetensors_bytes(header, std::vector<uint8_t>(12, 0)),
                {"tensors \"a\" and \"b\" overlap", "ends at byte 8", "begins at 4"});
}

TEST_CASE("safetensors refuses holes in the data buffer") {
  const std::string gap = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                          R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  check_refused(safetensors_bytes(gap, std::vector<uint8_t>(12, 0)),
                {"bytes [4, 8) of the data buffer belong to no tensor", "hole before tensor \"b\""});
  const std::string late_start = one_tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})");
  check_refused(safetensors_bytes(late_start, kEightBytes), {"bytes [0, 4)", "hole before tensor \"t\""});
}

TEST_CASE("safetensors refuses a data buffer shorter or longer than the offsets claim") {
  const std::string header = one_tensor(R"({"dtype":"F64","shape":[2],"data_offsets":[0,16]})");
  check_refused(safetensors_bytes(header, std::vector<uint8_t>(11, 0)),
                {"truncated", "need 16 bytes of data after the header, but only 11 follow it"});
  check_refused(safetensors_bytes(header, std::vector<uint8_t>(20, 0)),
                {"the last 4 bytes of the file belong to no tensor"});
  check_refused(safetensors_bytes("{}", {0}), {"the last 1 bytes of the file belong to no tensor"});
}

TEST_CASE("safetensors refuses duplicate tensor names") {
  // Both entries are valid and together they even tile the buffer: only the repeated name is wrong.
  const std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  check_refused(safetensors_bytes(header, kEightBytes), {"duplicate tensor name \"w\""});
  check_refused(
      safetensors_bytes(one_tensor(R"({"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]})"), {0, 0, 0, 0}),
      {"duplicate key \"dtype\""});
}

TEST_CASE("safetensors refuses metadata that is not a map of strings") {
  check_refused(safetensors_bytes(R"({"__metadata__":{"epoch":3}})", {}),
                {"\"__metadata__\" entry \"epoch\" is not a string but 3"});
  check_refused(safetensors_bytes(R"({"__metadata__":["a"]})", {}),
                {"\"__metadata__\" is not a map of strings to strings but array"});
}

TEST_CASE("safetensors refuses what is not a readable file") {
  ScratchDirectory directory;
  const std::string missing = directory.file("missing.safetensors");
  check_error([&] { load_safetensors(missing); }, {"SafetensorsReader", missing.c_str(), "cannot open"});
  const std::string folder = directory.file("folder.safetensors");
  std::filesystem::create_directory(folder);
  check_error([&] { load_safetensors(folder); }, {"SafetensorsReader", folder.c_str(), "is a directory"});
  check_error([&] { deserialize_safetensors(bytes_of("short")); }, {"SafetensorsReader", "<bytes>", "too short"});
}
