// IDX datasets: the real Fashion-MNIST against an independent zlib read of its files, the data root rule,
// and damaged files (truncated, corrupt gzip, bad magic, trailing bytes, mismatched labels) refused with
// their path and fault.
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "data_helpers.h"
#include "training/data/idx.h"

using namespace vireo;
using namespace vireo::data;
using vireo::testing::check_error;
using vireo::testing::ScopedEnvironment;
using vireo::testing::TempFolder;

namespace {

// The decompressed bytes of a gzip file, read here with zlib's one-shot API (not the library's reader).
std::vector<uint8_t> gunzip(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  REQUIRE(file.good());
  std::vector<uint8_t> compressed((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  z_stream stream{};
  REQUIRE(inflateInit2(&stream, 16 + MAX_WBITS) == Z_OK);  // 16+: expect a gzip wrapper
  stream.next_in = compressed.data();
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::vector<uint8_t> out;
  uint8_t buffer[1 << 16];
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    stream.next_out = buffer;
    stream.avail_out = sizeof buffer;
    status = inflate(&stream, Z_NO_FLUSH);
    REQUIRE((status == Z_OK || status == Z_STREAM_END));
    out.insert(out.end(), buffer, buffer + (sizeof buffer - stream.avail_out));
  }
  inflateEnd(&stream);
  return out;
}

std::vector<uint8_t> idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& values) {
  std::vector<uint8_t> bytes;
  auto put = [&](uint32_t word) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(word >> shift));
  };
  put(magic);
  for (uint32_t d : dims) put(d);
  bytes.insert(bytes.end(), values.begin(), values.end());
  return bytes;
}

void write_plain(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  REQUIRE(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  gzclose(file);
}

std::vector<uint8_t> read_plain(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

// n images of rows × cols whose pixel j of image i is (7i + j) mod 256, and labels i mod 10.
struct TinySplit {
  std::vector<uint8_t> images, labels;
};
TinySplit tiny_split(uint32_t n, uint32_t rows, uint32_t cols) {
  std::vector<uint8_t> pixels, labels;
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t j = 0; j < rows * cols; ++j) pixels.push_back(static_cast<uint8_t>((7 * i + j) % 256));
    labels.push_back(static_cast<uint8_t>(i % 10));
  }
  return {idx_bytes(0x803, {n, rows, cols}, pixels), idx_bytes(0x801, {n}, labels)};
}

}  // namespace

TEST_CASE("Fashion-MNIST splits have 60000 and 10000 examples of 28x28 with balanced labels") {
  ::unsetenv("VIREO_DATA_ROOT");
  for (Split split : {Split::train, Split::test}) {
    const auto dataset = fashion_mnist(split);
    const int64_t expected = split == Split::train ? 60000 : 10000;
    CHECK(dataset->size() == expected);
    CHECK(dataset->rows() == 28);
    CHECK(dataset->columns() == 28);
    CHECK(dataset->num_classes() == 10);
    // Fashion-MNIST is balanced: a tenth of each split per class.
    std::vector<int64_t> per_class(10, 0);
    for (int64_t i = 0; i < dataset->size(); ++i) {
      const int64_t label = dataset->label(i);
      REQUIRE(label >= 0);
      REQUIRE(label < 10);
      ++per_class[static_cast<size_t>(label)];
    }
    for (int64_t count : per_class) CHECK(count == expected / 10);
    const Example example = dataset->get(expected - 1);
    CHECK(example.image.height == 28);
    CHECK(example.image.width == 28);
    CHECK(example.image.channels == 1);
  }
  CHECK(std::string(fashion_mnist_classes()[9]) == "Ankle boot");
}

TEST_CASE("Fashion-MNIST pixels and labels equal an independent zlib read of the files") {
  ::unsetenv("VIREO_DATA_ROOT");
  const std::string root = kFashionMnistRoot;
  const std::vector<uint8_t> raw_images = gunzip(root + "/train-images-idx3-ubyte.gz");
  const std::vector<uint8_t> raw_labels = gunzip(root + "/train-labels-idx1-ubyte.gz");
  REQUIRE(raw_images.size() == 16 + 60000u * 784u);
  REQUIRE(raw_labels.size() == 8 + 60000u);
  // The mean pixel of the training set, from the raw bytes.
  double raw_sum = 0.0;
  for (size_t i = 16; i < raw_images.size(); ++i) raw_sum += raw_images[i];
  const double raw_mean = raw_sum / (60000.0 * 784.0 * 255.0);
  // The same through the dataset's examples, and the value the literature quotes (0.2860).
  const auto dataset = fashion_mnist(Split::train);
  double sum = 0.0;
  for (int64_t i = 0; i < dataset->size(); ++i) {
    const Example example = dataset->get(i);
    for (float v : example.image.pixels) sum += v;
    REQUIRE(example.label == raw_labels[8 + static_cast<size_t>(i)]);
  }
  CHECK(sum / (60000.0 * 784.0) == doctest::Approx(raw_mean).epsilon(1e-7));
  CHECK(raw_mean == doctest::Approx(0.2860).epsilon(2e-3));
  // Pixel by pixel for a few images: value = byte / 255, in row-major order.
  for (int64_t i : {0, 1, 12345, 59999}) {
    const Example example = dataset->get(i);
    for (int64_t y = 0; y < 28; ++y)
      for (int64_t x = 0; x < 28; ++x)
        REQUIRE(example.image.at(y, x, 0) == static_cast<float>(raw_images[16 + static_cast<size_t>(i * 784 + y * 28 + x)]) / 255.0f);
  }
}

TEST_CASE("an explicit root beats VIREO_DATA_ROOT which beats the default root") {
  TempFolder from_environment("idx_env"), explicit_root("idx_root");
  const TinySplit five = tiny_split(5, 3, 4), seven = tiny_split(7, 2, 2);
  // gzip in one folder, plain IDX in the other: both are read.
  write_gzip(from_environment / "t10k-images-idx3-ubyte.gz", five.images);
  write_gzip(from_environment / "t10k-labels-idx1-ubyte.gz", five.labels);
  write_plain(explicit_root / "t10k-images-idx3-ubyte", seven.images);
  write_plain(explicit_root / "t10k-labels-idx1-ubyte", seven.labels);
  ScopedEnvironment environment("VIREO_DATA_ROOT", from_environment.path.string());
  const auto via_environment = fashion_mnist(Split::test);
  CHECK(via_environment->size() == 5);
  CHECK(via_environment->rows() == 3);
  CHECK(via_environment->columns() == 4);
  // Image 2, pixel (1, 3): byte (7·2 + 1·4 + 3) = 21.
  CHECK(via_environment->get(2).image.at(1, 3, 0) == 21.0f / 255.0f);
  CHECK(via_environment->get(4).label == 4);
  const auto via_argument = fashion_mnist(Split::test, explicit_root.path.string());
  CHECK(via_argument->size() == 7);
  CHECK(mnist(Split::test)->size() == 5);
  check_error([&] { fashion_mnist(Split::train); }, {"fashion_mnist", "train", from_environment.path.string().c_str()});
}

TEST_CASE("truncated and corrupt IDX files are refused with their path and fault") {
  TempFolder folder("idx_bad");
  const TinySplit good = tiny_split(5, 4, 4);
  const std::string labels = folder / "labels.gz";
  write_gzip(labels, good.labels);

  SUBCASE("image data cut short") {
    const std::string path = folder / "short.gz";
    write_gzip(path, std::vector<uint8_t>(good.images.begin(), good.images.end() - 20));
    check_error([&] { read_idx(path, 3); }, {"read_idx", path.c_str(), "truncated", "5x4x4", "96 bytes in all", "ends after 76"});
    check_error([&] { IdxDataset(path, labels, 10); }, {path.c_str(), "truncated"});
  }
  SUBCASE("gzip stream cut short") {
    const std::string whole = folder / "whole.gz", cut = folder / "cut.gz";
    write_gzip(whole, good.images);
    std::vector<uint8_t> bytes = read_plain(whole);
    write_plain(cut, std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(bytes.size() / 2)));
    check_error([&] { read_idx(cut, 3); }, {"read_idx", cut.c_str(), "truncated"});
  }
  SUBCASE("gzip data corrupted") {
    const std::string whole = folder / "whole.gz", bad = folder / "corrupt.gz";
    write_gzip(whole, good.images);
    std::vector<uint8_t> bytes = read_plain(whole);
    // Flip the bytes of the gzip trailer's CRC: the data inflates but fails its checksum.
    for (size_t i = bytes.size() - 8; i < bytes.size() - 4; ++i) bytes[i] ^= 0xFF;
    write_plain(bad, bytes);
    check_error([&] { read_idx(bad, 3); }, {"read_idx", bad.c_str(), "corrupt", "zlib"});
  }
  SUBCASE("wrong magic number") {
    const std::string path = folder / "labels_as_images.gz";
    write_gzip(path, good.labels);
    check_error([&] { read_idx(path, 3); }, {"read_idx", path.c_str(), "bad magic number 0x00000801", "0x00000803"});
  }
  SUBCASE("bytes beyond what the header describes") {
    const std::string path = folder / "long.gz";
    std::vector<uint8_t> bytes = good.images;
    bytes.insert(bytes.end(), 3, 0);
    write_gzip(path, bytes);
    check_error([&] { read_idx(path, 3); }, {"read_idx", path.c_str(), "3 bytes follow"});
  }
  SUBCASE("header cut inside the sizes") {
    const std::string path = folder / "header.gz";
    write_gzip(path, std::vector<uint8_t>(good.images.begin(), good.images.begin() + 9));
    check_error([&] { read_idx(path, 3); }, {"read_idx", path.c_str(), "inside the header"});
  }
  SUBCASE("a size of zero") {
    const std::string path = folder / "empty.gz";
    write_gzip(path, idx_bytes(0x803, {0, 28, 28}, {}));
    check_error([&] { read_idx(path, 3); }, {"read_idx", path.c_str(), "no values", "0x28x28"});
  }
  SUBCASE("labels that do not match the images") {
    const std::string images = folder / "images.gz", four = folder / "four.gz", big = folder / "big.gz";
    write_gzip(images, good.images);
    write_gzip(four, idx_bytes(0x801, {4}, {0, 1, 2, 3}));
    write_gzip(big, idx_bytes(0x801, {5}, {0, 1, 12, 3, 4}));
    check_error([&] { IdxDataset(images, four, 10); }, {"IdxDataset", four.c_str(), "4 labels", "5 images"});
    check_error([&] { IdxDataset(images, big, 10); }, {"IdxDataset", big.c_str(), "label 12 of example 2", "[0, 10)"});
  }
  SUBCASE("a missing file") {
    const std::string path = folder / "absent.gz";
    check_error([&] { read_idx(path, 1); }, {"read_idx", "cannot open", path.c_str(), "No such file"});
  }
}
