// Inputs that fuzzing (tools/fuzz) found to break the training-side parsers, each fed here byte for byte
// and answered with a clean vireo::Error. The same bytes are seeds of the fuzz corpora
// (tools/fuzz/corpus/<parser>/finding_*.bin), so `make test`'s fuzz smoke replays them too.
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include "data_helpers.h"
#include "gradcheck.h"
#include "training/config_tree.h"
#include "training/data/idx.h"
#include "training/data/image_io.h"

using namespace vireo;
using vireo::testing::check_error;
using vireo::testing::TempFolder;

namespace {

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(file.good());
}

}  // namespace

// recipe_fuzz split this input at its NUL bytes into a recipe "{}" and eight overrides; the sixth,
// "\xFE\xFF\xFF\xFFlist=[x,+ y]~", was applied with its raw key, which the resolved recipe then began with:
// bytes a YAML reader takes for a UTF-16 byte-order mark, so the saved recipe did not parse back.
TEST_CASE("fuzz finding: an override whose key is not UTF-8 text is refused") {
  const std::vector<uint8_t> input = {
      0x7b, 0x7d, 0x00, 0x61, 0x2e, 0x62, 0x0e, 0x00, 0x00, 0x00, 0x60, 0x00, 0xfe, 0xff, 0xff, 0xff,
      0x6c, 0x69, 0x73, 0x74, 0x3d, 0x5b, 0x78, 0x2c, 0x2b, 0x20, 0x79, 0x5d, 0x7e, 0x00, 0x2d, 0x6b,
      0x00, 0x28, 0x00, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf, 0x0a, 0x20, 0x3d, 0x32};
  std::vector<std::string> pieces(1);
  for (uint8_t byte : input) {
    if (byte == 0) pieces.emplace_back();
    else pieces.back() += static_cast<char>(byte);
  }
  REQUIRE(pieces.size() == 9);
  training::ConfigTree tree = training::ConfigTree::parse(pieces[0], "fuzz.yaml");
  check_error([&] { tree.apply_override(pieces[5]); }, {"command line", "not UTF-8 text"});
  // Every other piece is refused too (no '=', an empty key, a key with a control character).
  for (size_t i = 1; i < pieces.size(); ++i) {
    if (i == 5) continue;
    CAPTURE(i);
    CHECK_THROWS_AS(tree.apply_override(pieces[i]), Error);
  }
  CHECK(tree.root()->entries.empty());
  // What the refusal protects: a recipe written back reads back.
  CHECK_NOTHROW(training::ConfigTree::parse(tree.to_yaml(), "resolved.yaml"));
}

TEST_CASE("override keys may be any UTF-8 text but no control character") {
  training::ConfigTree tree = training::ConfigTree::parse("{}", "recipe.yaml");
  tree.apply_override("gr\xC3\xB6\xC3\x9F" "e.x=3");  // "größe.x=3"
  const training::ConfigTree back = training::ConfigTree::parse(tree.to_yaml(), "resolved.yaml");
  REQUIRE(back.root()->find("gr\xC3\xB6\xC3\x9F" "e"));
  CHECK(back.root()->find("gr\xC3\xB6\xC3\x9F" "e")->find("x")->scalar == "3");
  check_error([&] { tree.apply_override("a\tb=1"); }, {"control character"});
  check_error([&] { tree.apply_override(std::string("a.\xC0\xAF=1")); }, {"not UTF-8 text"});  // overlong '/'
}

// idx_fuzz: an 8-byte header promising 2^32 − 1 labels, followed by 15 bytes. The reader allocated the
// promised 4 GiB before reading; now the buffer grows with the data, and the file is refused as truncated.
TEST_CASE("fuzz finding: an IDX header promising gigabytes is refused as truncated without allocating them") {
  const std::vector<uint8_t> input = {0x00, 0x00, 0x08, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00,
                                      0x0a, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09};
  TempFolder folder("fuzz_idx");
  write_bytes(folder / "labels-idx1-ubyte", input);
  check_error([&] { data::read_idx(folder / "labels-idx1-ubyte", 1); },
              {(folder / "labels-idx1-ubyte").c_str(), "truncated", "4294967295", "ends after 23"});
}

// image_fuzz: a JPEG whose DHT segment defines a table of 1 + 3 + 9·1 + … codes per length summing past 256.
// stb_image 2.27 builds such a table without checking, writing past its 257-entry arrays
// (UndefinedBehaviorSanitizer: index 257 out of bounds in stbi__build_huffman).
TEST_CASE("fuzz finding: a JPEG Huffman table of more than 256 codes is refused before stb reads it") {
  const std::vector<uint8_t> input = {
      0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x2f, 0x4a, 0x46, 0x49, 0x46, 0x04, 0xff, 0xfe, 0xff, 0xff, 0xf6, 0xf7,
      0xf8, 0xf9, 0xfa, 0x01, 0x00, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x01, 0x03, 0x11, 0x01, 0xff, 0xc4, 0x01, 0xa2, 0x00,
      0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48,
      0x48, 0x48, 0x46, 0x49, 0x01, 0x46, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x7f, 0xdb, 0x00,
      0x84, 0x00, 0x10, 0x0b, 0x0c, 0x0e, 0x0c, 0x0a, 0x00, 0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x10,
      0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0e, 0x0d, 0x0e, 0x20, 0x20, 0x32, 0x0a};
  TempFolder folder("fuzz_jpeg");
  write_bytes(folder / "x.jpg", input);
  check_error([&] { data::decode_image(folder / "x.jpg"); },
              {(folder / "x.jpg").c_str(), "corrupt JPEG", "Huffman table defines", "at most 256"});
}

// image_fuzz: 102 bytes with no signature, which stb_image falls back to reading as TGA: its header claimed an
// image of gigabytes, which stb allocated and spent minutes filling (libFuzzer: out-of-memory and timeout).
// Only the formats decode_image is for are handed to stb now.
TEST_CASE("fuzz finding: a file that is not PNG JPEG BMP or PNM is refused before stb guesses TGA") {
  const std::vector<uint8_t> input = {
      0x66, 0x00, 0x0a, 0x54, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x65, 0x6e, 0x74, 0x0a, 0x32, 0x20,
      0x32, 0x01, 0x00, 0x7f, 0xff, 0xde, 0xd8, 0x8d, 0x05, 0x65, 0x6e, 0x74, 0x0a, 0x32, 0x20, 0x32, 0x01,
      0x00, 0x7f, 0xff, 0xde, 0xd8, 0x8d, 0x05, 0x3c, 0xff, 0xff, 0x3c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0x50, 0x64, 0x78, 0x8c, 0xa0, 0xad, 0xb4, 0xc8, 0xdc};
  TempFolder folder("fuzz_tga");
  write_bytes(folder / "x.tga", input);
  check_error([&] { data::decode_image(folder / "x.tga"); },
              {(folder / "x.tga").c_str(), "not a PNG, JPEG, BMP or PNM file"});
}

TEST_CASE("an image header claiming more than 2^25 pixels is refused before decoding") {
  TempFolder folder("huge_pnm");
  // A PGM header for 8192 x 8192 gray pixels (2^26) with four bytes of data: stb would allocate the image
  // and fill it from a file far too short.
  const std::string header = "P5\n8192 8192\n255\n";
  std::vector<uint8_t> bytes(header.begin(), header.end());
  bytes.insert(bytes.end(), {1, 2, 3, 4});
  write_bytes(folder / "huge.pgm", bytes);
  check_error([&] { data::decode_image(folder / "huge.pgm"); },
              {(folder / "huge.pgm").c_str(), "8192x8192", "33554432"});
}
