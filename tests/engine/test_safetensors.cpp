// Safetensors: exact round trips of every dtype, byte-for-byte agreement with the layout the Python library
// writes (files written here by hand, and the reference implementation's own test vectors), the reader's
// lazy access, and atomic saving.
#include <signal.h>
#include <sys/resource.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "test_safetensors_helpers.h"

using namespace vireo;
using namespace vireo::io;
using vireo::testing::bytes_of;
using vireo::testing::check_error;
using vireo::testing::raw_bytes;
using vireo::testing::read_bytes;
using vireo::testing::safetensors_bytes;
using vireo::testing::ScratchDirectory;
using vireo::testing::write_bytes;

namespace {

// One tensor of every dtype and every awkward form: 0-d scalars, empty tensors, non-contiguous views.
StateDict every_kind_of_tensor() {
  Generator g(7);
  StateDict tensors;
  tensors["f32"] = randn({3, 4}, {}, &g);
  tensors["f64"] = randn({5}, {.dtype = DType::f64}, &g);
  tensors["f16"] = randn({2, 3}, {}, &g).to(DType::f16);
  tensors["bf16"] = randn({4, 2}, {}, &g).to(DType::bf16);
  tensors["i32"] = Tensor::from_vector({-2147483648.0, -1, 0, 2147483647.0}, {2, 2}, {.dtype = DType::i32});
  tensors["u8"] = arange(0.0, 256.0, 17.0, {.dtype = DType::u8});
  tensors["bool"] = Tensor::from_vector({1, 0, 0, 1, 1}, {5}, {.dtype = DType::boolean});
  Tensor big = Tensor::empty({3}, {.dtype = DType::i64});
  big.data<int64_t>()[0] = std::numeric_limits<int64_t>::min();
  big.data<int64_t>()[1] = std::numeric_limits<int64_t>::max();
  big.data<int64_t>()[2] = -7;
  tensors["i64"] = big;
  tensors["scalar.f32"] = scalar_tensor(-0.0);
  tensors["scalar.step"] = scalar_tensor(12345, {.dtype = DType::i64});
  tensors["empty.rows"] = zeros({0, 4});
  tensors["empty.cols"] = zeros({3, 0}, {.dtype = DType::i64});
  tensors["view.transposed"] = randn({3, 5}, {}, &g).t();
  tensors["view.strided"] = randn({6, 4}, {.dtype = DType::f64}, &g).to(DType::bf16).slice(0, 1, 6, 2);
  tensors["view.expanded"] = Tensor::from_vector({4, 5}, {2, 1}, {.dtype = DType::i32}).expand({2, 3});
  Tensor special = tensor({NAN, INFINITY, -INFINITY, std::numeric_limits<float>::denorm_min()});
  tensors["f32.special"] = special;
  return tensors;
}

void check_same_tensors(const StateDict& expected, const StateDict& actual) {
  REQUIRE(actual.size() == expected.size());
  for (const auto& [name, tensor] : expected) {
    INFO("tensor ", name);
    REQUIRE(actual.count(name) == 1);
    const Tensor& loaded = actual.at(name);
    CHECK(loaded.dtype() == tensor.dtype());
    CHECK(loaded.shape() == tensor.shape());
    CHECK(loaded.is_contiguous());
    CHECK(raw_bytes(loaded) == raw_bytes(tensor));  // bit for bit, NaN payloads and -0.0 included
  }
}

}  // namespace

TEST_CASE("safetensors round trip of every dtype and shape") {
  ScratchDirectory directory;
  const std::string path = directory.file("model.safetensors");
  const StateDict tensors = every_kind_of_tensor();
  const SafetensorsMetadata metadata{{"format", "pt"}, {"epoch", "3"}, {"note", "λ ≥ 0, \"quoted\"\n"}};
  save_safetensors(path, tensors, metadata);

  const SafetensorsFile loaded = load_safetensors(path);
  check_same_tensors(tensors, loaded.tensors);
  CHECK(loaded.metadata == metadata);
  // Values, not only bytes: the views were written in their logical order.
  CHECK(loaded.tensors.at("view.transposed").to_vector() == tensors.at("view.transposed").to_vector());
  CHECK(loaded.tensors.at("view.expanded").to_vector() == std::vector<double>{4, 4, 4, 5, 5, 5});
  CHECK(loaded.tensors.at("scalar.step").item() == 12345);
  CHECK(std::signbit(loaded.tensors.at("scalar.f32").item()));

  // The in-memory form is the same bytes, and reads back the same way.
  const std::vector<uint8_t> bytes = serialize_safetensors(tensors, metadata);
  CHECK(bytes == read_bytes(path));
  const SafetensorsFile parsed = deserialize_safetensors(bytes);
  check_same_tensors(tensors, parsed.tensors);
  CHECK(parsed.metadata == metadata);
  // The data buffer starts 8-byte aligned and every tensor at a multiple of its element size.
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  CHECK(header_size % 8 == 0);
  const SafetensorsReader reader(path);
  for (const auto& [name, tensor] : tensors) CHECK(reader.load(name).dtype() == tensor.dtype());
}

TEST_CASE("safetensors round trip without metadata writes no metadata entry") {
  const std::vector<uint8_t> bytes = serialize_safetensors({{"x", ones({1})}});
  const std::string text(bytes.begin(), bytes.end());
  CHECK(text.find("__metadata__") == std::string::npos);
  CHECK(deserialize_safetensors(bytes).metadata.empty());
  // An empty dictionary is a valid file too: "{}" padded to 8 bytes, no data.
  const std::vector<uint8_t> empty = serialize_safetensors({});
  CHECK(empty == safetensors_bytes("{}      ", {}));
  CHECK(deserialize_safetensors(empty).tensors.empty());
}

TEST_CASE("safetensors reader gives names shapes dtypes and single tensors") {
  ScratchDirectory directory;
  const std::string path = directory.file("parts.safetensors");
  const StateDict tensors = every_kind_of_tensor();
  save_safetensors(path, tensors, {{"k", "v"}});
  const SafetensorsReader reader(path);
  std::vector<std::string> expected_names;
  for (const auto& [name, tensor] : tensors) expected_names.push_back(name);
  CHECK(reader.names() == expected_names);
  CHECK(reader.path() == path);
  CHECK(reader.contains("bf16"));
  CHECK(!reader.contains("missing"));
  CHECK(reader.dtype("bf16") == DType::bf16);
  CHECK(reader.shape("view.strided") == Shape{3, 4});
  CHECK(reader.shape("scalar.step").empty());
  CHECK(reader.metadata() == SafetensorsMetadata{{"k", "v"}});
  CHECK(raw_bytes(reader.load("u8")) == raw_bytes(tensors.at("u8")));
  check_error([&] { reader.load("missing"); }, {"SafetensorsReader", path.c_str(), "no tensor named \"missing\""});
  check_error([&] { reader.dtype("missing"); }, {path.c_str(), "missing"});
  // A copy shares the mapping and outlives the original.
  SafetensorsReader copy = reader;
  { const SafetensorsReader moved = std::move(copy); CHECK(moved.load("i64").to_vector() == tensors.at("i64").to_vector()); }
}

TEST_CASE("safetensors reads a file laid out by hand as Python writes it") {
  // {"weight": f32 [1, -2], "step": i64 scalar 7, "half": f16 [1, 65504], "mask": bool [1, 0, 1]} with
  // metadata {"format": "pt"}, as safetensors.torch.save_file writes it: the header is compact JSON with
  // "__metadata__" first and the tensors sorted by dtype (I64 > F32 > F16 > BOOL in the reference's Dtype
  // order), then by name; 263 bytes of JSON plus 1 space make N = 264 = 0x108; the data follow in that
  // order, little-endian.
  const std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"("step":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
      R"("weight":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
      R"("half":{"dtype":"F16","shape":[2],"data_offsets":[16,20]},)"
      R"("mask":{"dtype":"BOOL","shape":[3],"data_offsets":[20,23]}})"
      " ";
  REQUIRE(header.size() == 264);
  std::vector<uint8_t> file = {0x08, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};  // N = 264, little-endian
  file.insert(file.end(), header.begin(), header.end());
  const std::vector<uint8_t> data = {
      0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // step: i64 7
      0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0,  // weight: f32 1.0 (0x3F800000), -2.0 (0xC0000000)
      0x00, 0x3C, 0xFF, 0x7B,                          // half: f16 1.0 (0x3C00), 65504 (0x7BFF)
      0x01, 0x00, 0x01};                               // mask: bool
  file.insert(file.end(), data.begin(), data.end());

  ScratchDirectory directory;
  const std::string path = directory.file("by_hand.safetensors");
  write_bytes(path, file);
  const SafetensorsFile loaded = load_safetensors(path);
  CHECK(loaded.metadata == SafetensorsMetadata{{"format", "pt"}});
  REQUIRE(loaded.tensors.size() == 4);
  const Tensor& step = loaded.tensors.at("step");
  CHECK(step.dtype() == DType::i64);
  CHECK(step.dim() == 0);
  CHECK(step.item() == 7);
  CHECK(loaded.tensors.at("weight").dtype() == DType::f32);
  CHECK(loaded.tensors.at("weight").to_vector() == std::vector<double>{1.0, -2.0});
  CHECK(loaded.tensors.at("half").dtype() == DType::f16);
  CHECK(loaded.tensors.at("half").to_vector() == std::vector<double>{1.0, 65504.0});
  CHECK(loaded.tensors.at("mask").dtype() == DType::boolean);
  CHECK(loaded.tensors.at("mask").to_vector() == std::vector<double>{1, 0, 1});

  // And the reverse: saving the same dictionary writes exactly these bytes.
  const std::string again = directory.file("again.safetensors");
  save_safetensors(again, loaded.tensors, loaded.metadata);
  CHECK(read_bytes(again) == file);
}

TEST_CASE("safetensors layout orders equal-size dtypes by the reference enum position") {
  // I64 comes before F64 and BF16 before F16 although their sizes tie: the reference sorts by its Dtype
  // enum (…, F16, BF16, I32, U32, F32, F64, I64, U64), descending, and only then by name — so "z_count"
  // precedes "a_scale" and "z_bf16" precedes "a_f16".
  const StateDict tensors{{"a_scale", tensor({0.25}, {.dtype = DType::f64})},
                          {"z_count", tensor({-3}, {.dtype = DType::i64})},
                          {"a_f16", tensor({1.5}, {.dtype = DType::f16})},
                          {"z_bf16", tensor({1.5}, {.dtype = DType::bf16})}};
  const std::string header =
      R"({"z_count":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
      R"("a_scale":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},)"
      R"("z_bf16":{"dtype":"BF16","shape":[1],"data_offsets":[16,18]},)"
      R"("a_f16":{"dtype":"F16","shape":[1],"data_offsets":[18,20]}})";
  REQUIRE(header.size() == 240);  // a multiple of 8: no padding
  const std::vector<uint8_t> data = {
      0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // i64 -3
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xD0, 0x3F,  // f64 0.25 (0x3FD0000000000000)
      0xC0, 0x3F,                                      // bf16 1.5 (0x3FC0)
      0x00, 0x3E};                                     // f16 1.5 (0x3E00)
  CHECK(serialize_safetensors(tensors) == safetensors_bytes(header, data));
}

TEST_CASE("safetensors matches the reference implementation test vectors") {
  // The expected bytes of safetensors/src/tensor.rs tests test_serialization, test_empty and
  // test_serialization_forced_alignement, written out here.
  const std::vector<uint8_t> f32_data = {0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64};
  const Tensor six = Tensor::from_vector({0, 1, 2, 3, 4, 5}, {1, 2, 3});
  CHECK(serialize_safetensors({{"attn.0", six}}) ==
        safetensors_bytes(R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})", f32_data));
  CHECK(serialize_safetensors({{"attn0", six.reshape({1, 1, 2, 3})}}) ==
        safetensors_bytes(R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})"
                          "       ",
                          f32_data));
  CHECK(serialize_safetensors({}, {{"framework", "pt"}}) ==
        safetensors_bytes(R"({"__metadata__":{"framework":"pt"}})"
                          "     ",
                          {}));
}

TEST_CASE("safetensors accepts what the reference accepts") {
  // Entries in any order, an unpadded header with surrounding whitespace, unknown fields inside an entry,
  // "__metadata__": null, and empty tensors sharing an offset — all valid for the reference reader.
  const std::string header =
      R"(  {"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6],"extra":{"x":1}},"__metadata__":null,)"
      R"("e1":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"e2":{"dtype":"F64","shape":[0,2],"data_offsets":[4,4]},)"
      R"("a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}} )";
  const std::vector<uint8_t> data = {0x00, 0x00, 0x20, 0x41, 0x05, 0xFA};  // a = 10.0f, b = {5, 250}
  const SafetensorsFile file = deserialize_safetensors(safetensors_bytes(header, data));
  CHECK(file.metadata.empty());
  CHECK(file.tensors.at("a").item() == 10.0);
  CHECK(file.tensors.at("b").to_vector() == std::vector<double>{5, 250});
  CHECK(file.tensors.at("e1").numel() == 0);
  CHECK(file.tensors.at("e2").shape() == Shape{0, 2});
  // A BOOL byte other than 0 or 1 reads as true (one byte per element; nonzero is true).
  const SafetensorsFile flags = deserialize_safetensors(
      safetensors_bytes(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", {0x00, 0x02, 0xFF}));
  CHECK(flags.tensors.at("m").to_vector() == std::vector<double>{0, 1, 1});
  CHECK(flags.tensors.at("m").to(DType::u8).to_vector() == std::vector<double>{0, 1, 1});
}

TEST_CASE("safetensors saving replaces a file atomically") {
  ScratchDirectory directory;
  const std::string path = directory.file("ckpt.safetensors");
  save_safetensors(path, {{"w", ones({4})}});
  save_safetensors(path, {{"w", full({2}, 3.0)}, {"b", zeros({1})}}, {{"step", "2"}});
  const SafetensorsFile loaded = load_safetensors(path);
  CHECK(loaded.tensors.at("w").to_vector() == std::vector<double>{3, 3});
  CHECK(loaded.tensors.count("b") == 1);
  CHECK(loaded.metadata.at("step") == "2");
  CHECK(directory.entries() == std::vector<std::string>{"ckpt.safetensors"});  // no temporary file left
  // A path without a directory part lands in the current directory.
  const auto previous = std::filesystem::current_path();
  std::filesystem::current_path(directory.path());
  save_safetensors("here.safetensors", {{"x", ones({1})}});
  std::filesystem::current_path(previous);
  CHECK(directory.entries() == std::vector<std::string>{"ckpt.safetensors", "here.safetensors"});
}

TEST_CASE("safetensors save that fails leaves the previous file untouched") {
  ScratchDirectory directory;
  const std::string path = directory.file("ckpt.safetensors");
  save_safetensors(path, {{"w", arange(10)}}, {{"version", "1"}});
  const std::vector<uint8_t> before = read_bytes(path);

  // Refused before the file system is touched: an undefined tensor, a reserved name.
  check_error([&] { save_safetensors(path, {{"ok", ones({2})}, {"grad", Tensor()}}); },
              {"save_safetensors", path.c_str(), "tensor \"grad\" is undefined"});
  check_error([&] { save_safetensors(path, {{"__metadata__", ones({2})}}); }, {path.c_str(), "reserved"});
  check_error([&] { save_safetensors(path, {{std::string("bad\xff"), ones({2})}}); }, {path.c_str(), "UTF-8"});
  CHECK(read_bytes(path) == before);
  CHECK(directory.entries() == std::vector<std::string>{"ckpt.safetensors"});

  // A write that fails halfway (the file-size limit stands in for a full disk): the temporary file is
  // removed and the old file is still the old file.
  rlimit original{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &original) == 0);
  auto previous_handler = signal(SIGXFSZ, SIG_IGN);  // else exceeding the limit kills the process
  rlimit small = original;
  small.rlim_cur = 4096;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  bool refused = false;
  std::string message;
  try {
    save_safetensors(path, {{"w", ones({100000})}});
  } catch (const Error& error) {
    refused = true;
    message = error.what();
  }
  REQUIRE(setrlimit(RLIMIT_FSIZE, &original) == 0);
  signal(SIGXFSZ, previous_handler);
  CHECK(refused);
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find("cannot write") != std::string::npos);
  CHECK(read_bytes(path) == before);
  CHECK(directory.entries() == std::vector<std::string>{"ckpt.safetensors"});

  // The rename fails (the destination is a directory): the directory stays, the temporary file goes.
  const std::string occupied = directory.file("occupied");
  std::filesystem::create_directory(occupied);
  check_error([&] { save_safetensors(occupied, {{"w", ones({2})}}); }, {occupied.c_str(), "cannot rename"});
  CHECK(std::filesystem::is_directory(occupied));
  CHECK(directory.entries() == std::vector<std::string>{"ckpt.safetensors", "occupied"});

  // A directory that cannot be written to (here: one that does not exist).
  const std::string nowhere = directory.file("missing/ckpt.safetensors");
  check_error([&] { save_safetensors(nowhere, {{"w", ones({2})}}); }, {nowhere.c_str(), "temporary file"});
  CHECK(load_safetensors(path).tensors.at("w").to_vector() == arange(10).to_vector());
}
