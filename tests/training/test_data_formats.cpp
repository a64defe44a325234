// CIFAR binary files, ImageFolder and image files, the synthetic dataset, Subset and stack_dataset: each
// against files written here (stb_image_write for images) and values computed here.
#include <stb/stb_image_write.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "data_helpers.h"
#include "gradcheck.h"
#include "training/data/cifar.h"
#include "training/data/image_folder.h"
#include "training/data/image_io.h"
#include "training/data/synthetic.h"

using namespace vireo;
using namespace vireo::data;
using vireo::testing::check_error;
using vireo::testing::TempFolder;

namespace {

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// The pixel byte of record `record` in a test CIFAR file at plane c, row y, column x.
uint8_t cifar_pixel(int record, int c, int y, int x) { return static_cast<uint8_t>((record * 31 + c * 101 + y * 7 + x * 3) % 256); }

// CIFAR records: the label bytes, then the red, green and blue 32×32 planes.
std::vector<uint8_t> cifar_records(const std::vector<std::vector<uint8_t>>& labels, int first_record) {
  std::vector<uint8_t> bytes;
  for (size_t r = 0; r < labels.size(); ++r) {
    bytes.insert(bytes.end(), labels[r].begin(), labels[r].end());
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) bytes.push_back(cifar_pixel(first_record + static_cast<int>(r), c, y, x));
  }
  return bytes;
}

// An h × w × c image of bytes, value (y·w + x)·c·13 + c·50 mod 256 (distinct per pixel and channel).
std::vector<uint8_t> pattern(int h, int w, int c, int shift) {
  std::vector<uint8_t> bytes(static_cast<size_t>(h * w * c));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < c; ++ch) bytes[static_cast<size_t>((y * w + x) * c + ch)] = static_cast<uint8_t>(((y * w + x) * 13 + ch * 50 + shift) % 256);
  return bytes;
}

}  // namespace

TEST_CASE("CIFAR-10 binary files round trip through CifarDataset") {
  TempFolder root("cifar10");
  // Five training batches of 3, 1, 2, 1, 2 records and a test batch of 2.
  const std::vector<int> records = {3, 1, 2, 1, 2};
  int first = 0;
  std::vector<int> expected_labels;
  for (int b = 0; b < 5; ++b) {
    std::vector<std::vector<uint8_t>> labels;
    for (int r = 0; r < records[static_cast<size_t>(b)]; ++r) {
      labels.push_back({static_cast<uint8_t>((first + r) % 10)});
      expected_labels.push_back((first + r) % 10);
    }
    write_bytes(root / ("data_batch_" + std::to_string(b + 1) + ".bin"), cifar_records(labels, first));
    first += records[static_cast<size_t>(b)];
  }
  write_bytes(root / "test_batch.bin", cifar_records({{9}, {4}}, 100));

  const CifarDataset train({.root = root.path.string()});
  REQUIRE(train.size() == 9);
  CHECK(train.num_classes() == 10);
  CHECK(train.files().back() == root / "data_batch_5.bin");
  for (int i = 0; i < 9; ++i) {
    const Example example = train.get(i);
    CHECK(example.label == expected_labels[static_cast<size_t>(i)]);
    REQUIRE(example.image.height == 32);
    REQUIRE(example.image.channels == 3);
    for (int y : {0, 17, 31})
      for (int x : {0, 5, 31})
        for (int c = 0; c < 3; ++c) CHECK(example.image.at(y, x, c) == static_cast<float>(cifar_pixel(i, c, y, x)) / 255.0f);
  }
  const CifarDataset test({.root = root.path.string(), .split = Split::test});
  REQUIRE(test.size() == 2);
  CHECK(test.get(0).label == 9);
  CHECK(test.get(1).label == 4);
  CHECK(test.get(1).image.at(2, 3, 1) == static_cast<float>(cifar_pixel(101, 1, 2, 3)) / 255.0f);
}

TEST_CASE("CIFAR-100 gives fine or coarse labels") {
  TempFolder root("cifar100");
  write_bytes(root / "train.bin", cifar_records({{3, 77}, {19, 99}, {0, 0}}, 0));
  const CifarDataset fine({.root = root.path.string(), .variant = CifarVariant::cifar100});
  const CifarDataset coarse({.root = root.path.string(), .variant = CifarVariant::cifar100, .label = CifarLabel::coarse});
  CHECK(fine.num_classes() == 100);
  CHECK(coarse.num_classes() == 20);
  CHECK(fine.get(0).label == 77);
  CHECK(fine.get(1).label == 99);
  CHECK(coarse.get(0).label == 3);
  CHECK(coarse.get(1).label == 19);
  CHECK(fine.get(2).image.at(31, 31, 2) == static_cast<float>(cifar_pixel(2, 2, 31, 31)) / 255.0f);
}

TEST_CASE("CIFAR files that are missing or of the wrong length or label are refused naming the file") {
  TempFolder root("cifar_bad");
  std::vector<uint8_t> two = cifar_records({{1}, {2}}, 0);
  SUBCASE("truncated record") {
    two.pop_back();
    write_bytes(root / "test_batch.bin", two);
    check_error([&] { CifarDataset({.root = root.path.string(), .split = Split::test}); },
                {"CifarDataset", (root / "test_batch.bin").c_str(), "6145 bytes", "3073-byte records"});
  }
  SUBCASE("label out of range") {
    two[3073] = 10;
    write_bytes(root / "test_batch.bin", two);
    check_error([&] { CifarDataset({.root = root.path.string(), .split = Split::test}); },
                {"CifarDataset", (root / "test_batch.bin").c_str(), "record 1 has label 10", "[0, 10)"});
  }
  SUBCASE("missing training batch") {
    for (int b = 1; b <= 4; ++b) write_bytes(root / ("data_batch_" + std::to_string(b) + ".bin"), two);
    check_error([&] { CifarDataset({.root = root.path.string()}); }, {"CifarDataset", "cannot open", (root / "data_batch_5.bin").c_str()});
  }
}

TEST_CASE("ImageFolder reads PNG and JPEG files with classes in sorted order") {
  TempFolder root("image_folder");
  std::filesystem::create_directories(root.path / "dog");
  std::filesystem::create_directories(root.path / "cat");
  std::filesystem::create_directories(root.path / "emu");
  const std::vector<uint8_t> rgb_a = pattern(6, 5, 3, 0), rgb_b = pattern(6, 5, 3, 7), gray = pattern(6, 5, 1, 3);
  REQUIRE(stbi_write_png((root / "cat/b.png").c_str(), 5, 6, 3, rgb_b.data(), 15));
  REQUIRE(stbi_write_png((root / "cat/a.png").c_str(), 5, 6, 3, rgb_a.data(), 15));
  REQUIRE(stbi_write_png((root / "dog/gray.png").c_str(), 5, 6, 1, gray.data(), 5));
  // A flat colour survives JPEG's compression to within a few levels.
  const std::vector<uint8_t> flat(16 * 16 * 3, 0);
  std::vector<uint8_t> orange = flat;
  for (size_t i = 0; i < orange.size(); i += 3) orange[i] = 230, orange[i + 1] = 120, orange[i + 2] = 20;
  REQUIRE(stbi_write_jpg((root / "emu/orange.JPG").c_str(), 16, 16, 3, orange.data(), 95));
  write_bytes(root / "emu/notes.txt", {'h', 'i'});

  const ImageFolder folder({.root = root.path.string()});
  REQUIRE(folder.classes() == std::vector<std::string>{"cat", "dog", "emu"});
  REQUIRE(folder.size() == 4);
  CHECK(folder.path(0) == root / "cat/a.png");
  CHECK(folder.path(1) == root / "cat/b.png");
  CHECK(folder.num_classes() == 3);
  // PNG is lossless: every value is byte / 255.
  const Example a = folder.get(0);
  CHECK(a.label == 0);
  REQUIRE(a.image.height == 6);
  REQUIRE(a.image.width == 5);
  REQUIRE(a.image.channels == 3);
  for (size_t i = 0; i < rgb_a.size(); ++i) REQUIRE(a.image.pixels[i] == static_cast<float>(rgb_a[i]) / 255.0f);
  // A grayscale file read as RGB repeats its channel.
  const Example g = folder.get(2);
  CHECK(g.label == 1);
  REQUIRE(g.image.channels == 3);
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 5; ++x)
      for (int c = 0; c < 3; ++c) REQUIRE(g.image.at(y, x, c) == static_cast<float>(gray[static_cast<size_t>(y * 5 + x)]) / 255.0f);
  const Example jpeg = folder.get(3);
  CHECK(jpeg.label == 2);
  CHECK(jpeg.image.at(8, 8, 0) == doctest::Approx(230.0 / 255.0).epsilon(0.02));
  CHECK(jpeg.image.at(8, 8, 1) == doctest::Approx(120.0 / 255.0).epsilon(0.03));

  // One channel: RGB becomes its luma 0.299 R + 0.587 G + 0.114 B; resize gives one size for all.
  const ImageFolder luma({.root = root.path.string(), .channels = 1, .resize = {4, 4}});
  const Example small = luma.get(1);
  REQUIRE(small.image.channels == 1);
  CHECK(small.image.height == 4);
  CHECK(small.image.width == 4);
  const ImageFolder luma_full({.root = root.path.string(), .channels = 1});
  const Example b = luma_full.get(1);
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 5; ++x) {
      const size_t at = static_cast<size_t>((y * 5 + x) * 3);
      const double expected = (0.299 * rgb_b[at] + 0.587 * rgb_b[at + 1] + 0.114 * rgb_b[at + 2]) / 255.0;
      REQUIRE(b.image.at(y, x, 0) == doctest::Approx(expected).epsilon(1e-5));
    }
}

TEST_CASE("ImageFolder refuses a corrupt image with its path and an empty class folder") {
  TempFolder root("image_folder_bad");
  std::filesystem::create_directories(root.path / "a");
  const std::vector<uint8_t> pixels = pattern(4, 4, 3, 0);
  REQUIRE(stbi_write_png((root / "a/good.png").c_str(), 4, 4, 3, pixels.data(), 12));
  // A PNG signature followed by garbage, and a PNG cut in half.
  write_bytes(root / "a/garbage.png", {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 1, 2, 3, 4, 5, 6, 7});
  std::ifstream good(root / "a/good.png", std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(good)), std::istreambuf_iterator<char>());
  write_bytes(root / "a/half.png", std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(bytes.size() / 2)));
  const ImageFolder folder({.root = root.path.string()});
  REQUIRE(folder.size() == 3);  // garbage.png, good.png, half.png
  check_error([&] { folder.get(0); }, {"cannot decode", (root / "a/garbage.png").c_str()});
  CHECK(folder.get(1).image.height == 4);
  check_error([&] { folder.get(2); }, {"cannot decode", (root / "a/half.png").c_str()});

  std::filesystem::create_directories(root.path / "b");
  check_error([&] { ImageFolder({.root = root.path.string()}); }, {"ImageFolder", (root.path / "b").string().c_str(), "no images"});
  check_error([&] { ImageFolder({.root = root / "absent"}); }, {"ImageFolder", (root / "absent").c_str(), "not a folder"});
}

TEST_CASE("write_png and decode_image round trip exactly") {
  TempFolder root("png");
  Image image(3, 4, 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<float>((i * 37) % 256) / 255.0f;
  write_png(root / "x.png", image);
  const Image back = decode_image(root / "x.png");
  REQUIRE(back.channels == 3);
  REQUIRE(back.height == 3);
  CHECK(back.pixels == image.pixels);
  const Image gray = decode_image(root / "x.png", 1);
  CHECK(gray.channels == 1);
  check_error([&] { decode_image(root / "y.png"); }, {"decode_image", (root / "y.png").c_str()});
}

TEST_CASE("SyntheticDataset is deterministic per seed and learnable by nearest class mean") {
  const SyntheticDataset a({.size = 600, .num_classes = 4, .channels = 3, .height = 12, .width = 12, .noise = 0.3, .seed = 5});
  const SyntheticDataset same({.size = 600, .num_classes = 4, .channels = 3, .height = 12, .width = 12, .noise = 0.3, .seed = 5});
  const SyntheticDataset other({.size = 600, .num_classes = 4, .channels = 3, .height = 12, .width = 12, .noise = 0.3, .seed = 6});
  CHECK(a.get(17).image.pixels == same.get(17).image.pixels);
  CHECK(a.get(17).label == same.get(17).label);
  CHECK(a.get(17).image.pixels != other.get(17).image.pixels);
  // Class means from the first 300 examples classify the other 300 (the noise is 0.3 per pixel).
  const size_t pixels = 12 * 12 * 3;
  std::vector<std::vector<double>> means(4, std::vector<double>(pixels, 0.0));
  std::vector<int> counts(4, 0);
  for (int64_t i = 0; i < 300; ++i) {
    const Example e = a.get(i);
    REQUIRE(e.label >= 0);
    REQUIRE(e.label < 4);
    ++counts[static_cast<size_t>(e.label)];
    for (size_t p = 0; p < pixels; ++p) means[static_cast<size_t>(e.label)][p] += e.image.pixels[p];
  }
  for (int k = 0; k < 4; ++k) {
    REQUIRE(counts[static_cast<size_t>(k)] > 30);
    for (double& m : means[static_cast<size_t>(k)]) m /= counts[static_cast<size_t>(k)];
  }
  int correct = 0;
  for (int64_t i = 300; i < 600; ++i) {
    const Example e = a.get(i);
    int best = 0;
    double best_distance = 1e300;
    for (int k = 0; k < 4; ++k) {
      double d = 0.0;
      for (size_t p = 0; p < pixels; ++p) d += std::pow(e.image.pixels[p] - means[static_cast<size_t>(k)][p], 2);
      if (d < best_distance) best_distance = d, best = k;
    }
    correct += best == e.label;
  }
  CHECK(correct >= 285);
}

TEST_CASE("Subset renumbers examples and stack_dataset stacks them") {
  auto base = std::make_shared<const SyntheticDataset>(SyntheticOptions{.size = 20, .channels = 2, .height = 3, .width = 4});
  const Subset subset(base, {7, 3, 19});
  REQUIRE(subset.size() == 3);
  CHECK(subset.get(1).image.pixels == base->get(3).image.pixels);
  CHECK(subset.get(2).label == base->get(19).label);
  check_error([&] { Subset(base, {20}); }, {"Subset", "indices[0] = 20", "20 examples"});
  const StackedDataset stacked = stack_dataset(subset);
  CHECK(stacked.images.shape() == Shape{3, 2, 3, 4});
  CHECK(stacked.labels.shape() == Shape{3});
  // Channel-planar: element [i, c, y, x] is pixel (y, x, c) of example i.
  const std::vector<double> values = stacked.images.to_vector();
  const Example e = subset.get(2);
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 4; ++x) CHECK(values[static_cast<size_t>(((2 * 2 + c) * 3 + y) * 4 + x)] == e.image.at(y, x, c));
  CHECK(stacked.labels.to_vector()[0] == base->get(7).label);
}
