// The smoke driver behind `make test`: a main() for a fuzz target built with the ordinary compiler, no
// libFuzzer needed. It replays every file of the corpus folders (or single files) named on its command line,
// and for each file a fixed set of mutations of it — the kinds of damage that break parsers:
//   truncations    every length up to 64 bytes, then 32 lengths spread over the rest;
//   bit flips      64 single bits;
//   insertions     16 bytes inserted, 16 bytes deleted, 8 spans duplicated;
//   length fields  the 4- and 8-byte words at offsets 0, 4, …, 28 overwritten, little- and big-endian, with
//                  0, 1, 0x7f, 0xff, 2^31 − 1, 2^31, 2^32 − 1, 2^63 − 1, 2^64 − 1 and the file's length;
//   numbers in text  each of the first 16 runs of digits replaced by 0, -1, 1e308, nan, 99999999999999999999;
//   splices        the first half of the file joined to the second half of the next corpus file.
// The mutations come from a fixed-seed generator, so each run replays the same few thousand inputs.
//
// A finding fails the run: the target escaping with an exception (it swallows vireo::Error itself, so
// anything that escapes is not one), or a crash or sanitizer report, before which the input is described
// on stderr and saved as fuzz-smoke-failure.bin in the working folder, to replay with this program or the
// libFuzzer build.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <typeinfo>
#include <vector>

#include "fuzz_support.h"

// Present only in sanitizer builds: lets the driver describe the input before ASan/UBSan end the process.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace {

using Bytes = std::vector<uint8_t>;

// The input being run, kept where the crash handlers can reach it without allocating.
const Bytes* current_input = nullptr;
char current_description[512] = "";

void report_current_input() {
  static bool reported = false;
  if (reported || !current_input) return;
  reported = true;
  const char* intro = "\nfuzz smoke: the input that failed: ";
  (void)!::write(STDERR_FILENO, intro, std::strlen(intro));
  (void)!::write(STDERR_FILENO, current_description, std::strlen(current_description));
  const char* saved = "\nfuzz smoke: saved as fuzz-smoke-failure.bin\n";
  const int fd = ::open("fuzz-smoke-failure.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    if (!current_input->empty()) (void)!::write(fd, current_input->data(), current_input->size());
    ::close(fd);
    (void)!::write(STDERR_FILENO, saved, std::strlen(saved));
  }
}

void on_fatal_signal(int signal) {
  report_current_input();
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

// splitmix64: a small, fixed-seed generator, so the mutations are the same on every run.
struct Generator {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t bound) { return bound == 0 ? 0 : static_cast<size_t>(next() % bound); }
};

uint64_t hash_of(const std::string& text) {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

Bytes read_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    std::fprintf(stderr, "fuzz smoke: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  return Bytes(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

// The corpus files named by the arguments: files as given, folders by their files, sorted.
std::vector<std::filesystem::path> corpus_files(int argc, char** argv) {
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path path(argv[i]);
    if (std::filesystem::is_directory(path)) {
      std::vector<std::filesystem::path> inside;
      for (const auto& entry : std::filesystem::directory_iterator(path))
        if (entry.is_regular_file()) inside.push_back(entry.path());
      std::sort(inside.begin(), inside.end());
      files.insert(files.end(), inside.begin(), inside.end());
    } else if (std::filesystem::is_regular_file(path)) {
      files.push_back(path);
    } else {
      std::fprintf(stderr, "fuzz smoke: %s is neither a file nor a folder\n", argv[i]);
      std::exit(2);
    }
  }
  return files;
}

class Replayer {
 public:
  size_t count() const { return count_; }

  void run(const Bytes& input, const std::string& description) {
    current_input = &input;
    std::snprintf(current_description, sizeof current_description, "%s (%zu bytes)", description.c_str(),
                  input.size());
    ++count_;
    try {
      LLVMFuzzerTestOneInput(input.data(), input.size());
    } catch (const std::exception& error) {
      std::fprintf(stderr, "fuzz smoke: an exception that is not vireo::Error escaped: %s: %s\n",
                   typeid(error).name(), error.what());
      report_current_input();
      std::exit(1);
    } catch (...) {
      std::fprintf(stderr, "fuzz smoke: an exception of unknown type escaped\n");
      report_current_input();
      std::exit(1);
    }
    current_input = nullptr;
  }

 private:
  size_t count_ = 0;
};

void write_word(Bytes& bytes, size_t offset, uint64_t value, size_t width, bool big_endian) {
  for (size_t i = 0; i < width; ++i) {
    const size_t shift = 8 * (big_endian ? width - 1 - i : i);
    bytes[offset + i] = static_cast<uint8_t>(value >> shift);
  }
}

void replay_mutations(Replayer& replayer, const Bytes& seed, const Bytes& next_seed, const std::string& name) {
  Generator generator{hash_of(name)};
  const size_t size = seed.size();

  for (size_t length = 0; length < std::min<size_t>(size, 64); ++length)
    replayer.run(Bytes(seed.begin(), seed.begin() + length), name + ": truncated to " + std::to_string(length));
  if (size > 64)
    for (int i = 0; i < 32; ++i) {
      const size_t length = 64 + (size - 64) * i / 32;
      replayer.run(Bytes(seed.begin(), seed.begin() + length), name + ": truncated to " + std::to_string(length));
    }

  for (int i = 0; i < 64 && size > 0; ++i) {
    Bytes mutated = seed;
    const size_t at = generator.below(size);
    const int bit = static_cast<int>(generator.below(8));
    mutated[at] ^= static_cast<uint8_t>(1u << bit);
    replayer.run(mutated, name + ": bit " + std::to_string(bit) + " of byte " + std::to_string(at) + " flipped");
  }

  for (int i = 0; i < 16; ++i) {
    Bytes mutated = seed;
    const size_t at = generator.below(size + 1);
    const auto byte = static_cast<uint8_t>(generator.next());
    mutated.insert(mutated.begin() + static_cast<std::ptrdiff_t>(at), byte);
    replayer.run(mutated, name + ": byte " + std::to_string(byte) + " inserted at " + std::to_string(at));
  }
  for (int i = 0; i < 16 && size > 0; ++i) {
    Bytes mutated = seed;
    const size_t at = generator.below(size);
    mutated.erase(mutated.begin() + static_cast<std::ptrdiff_t>(at));
    replayer.run(mutated, name + ": byte " + std::to_string(at) + " deleted");
  }
  for (int i = 0; i < 8 && size > 0; ++i) {
    const size_t begin = generator.below(size), length = 1 + generator.below(std::min<size_t>(size - begin, 64));
    Bytes mutated = seed;
    mutated.insert(mutated.begin() + static_cast<std::ptrdiff_t>(begin + length), seed.begin() + begin,
                   seed.begin() + begin + length);
    replayer.run(mutated, name + ": bytes [" + std::to_string(begin) + ", " + std::to_string(begin + length) +
                              ") duplicated");
  }

  const uint64_t values[] = {0, 1, 0x7f, 0xff, 0x7fffffffull, 0x80000000ull, 0xffffffffull, 0x7fffffffffffffffull,
                             ~0ull, size};
  for (size_t width : {size_t{4}, size_t{8}})
    for (size_t offset = 0; offset < 32 && offset + width <= size; offset += 4)
      for (bool big_endian : {false, true})
        for (uint64_t value : values) {
          Bytes mutated = seed;
          write_word(mutated, offset, value, width, big_endian);
          replayer.run(mutated, name + ": " + std::to_string(width) + "-byte " + (big_endian ? "big" : "little") +
                                    "-endian word at " + std::to_string(offset) + " set to " + std::to_string(value));
        }

  const char* numbers[] = {"0", "-1", "1e308", "nan", "99999999999999999999"};
  int runs = 0;
  for (size_t at = 0; at < size && runs < 16;) {
    if (!std::isdigit(seed[at])) {
      ++at;
      continue;
    }
    size_t end = at;
    while (end < size && std::isdigit(seed[end])) ++end;
    for (const char* number : numbers) {
      Bytes mutated(seed.begin(), seed.begin() + at);
      mutated.insert(mutated.end(), number, number + std::strlen(number));
      mutated.insert(mutated.end(), seed.begin() + end, seed.end());
      replayer.run(mutated, name + ": the number at byte " + std::to_string(at) + " replaced by " + number);
    }
    ++runs;
    at = end;
  }

  Bytes spliced(seed.begin(), seed.begin() + size / 2);
  spliced.insert(spliced.end(), next_seed.begin() + next_seed.size() / 2, next_seed.end());
  replayer.run(spliced, name + ": first half joined to the next corpus file's second half");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_FOLDER_OR_FILE...\n", argv[0]);
    return 2;
  }
  // Under a sanitizer its own handlers print the report (with the stack) and then call ours; without one,
  // ours catch the fatal signals. abort() (a violated property) is ours in both cases.
  std::signal(SIGABRT, on_fatal_signal);
  if (__sanitizer_set_death_callback) {
    __sanitizer_set_death_callback(report_current_input);
  } else {
    for (int signal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(signal, on_fatal_signal);
  }

  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::filesystem::path> files = corpus_files(argc, argv);
  if (files.empty()) {
    std::fprintf(stderr, "fuzz smoke: no corpus files\n");
    return 2;
  }
  std::vector<Bytes> seeds;
  for (const auto& path : files) seeds.push_back(read_file(path));

  Replayer replayer;
  for (size_t i = 0; i < seeds.size(); ++i) {
    const std::string name = files[i].filename().string();
    replayer.run(seeds[i], name);
    replay_mutations(replayer, seeds[i], seeds[(i + 1) % seeds.size()], name);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("fuzz smoke: %zu inputs (%zu corpus files and their mutations) in %.2f s, no finding\n",
              replayer.count(), files.size(), seconds);
  return 0;
}
