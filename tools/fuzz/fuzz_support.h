// What every fuzz target shares: the libFuzzer entry point's declaration, a property check that fails
// loudly, and a scratch file for the parsers that read a path rather than bytes.
//
// A target calls a parser on arbitrary bytes and swallows vireo::Error, the library's way of refusing bad
// input. Everything else escapes on purpose: another exception type reaches std::terminate, a violated
// property calls abort, and both count as findings for libFuzzer (a crash) and for tools/fuzz/replay_main.cpp.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace vireo::fuzz {

// A property every accepted input must have (a round trip, a size the header promised). Violations are
// bugs, not refusals, so they abort rather than throw: no catch block can hide them.
inline void expect(bool holds, const char* property) {
  if (holds) return;
  std::fprintf(stderr, "fuzz property violated: %s\n", property);
  std::abort();
}

// One file per process under the temp folder, rewritten with every input: IDX and image decoding take a
// path, and going through a real file exercises their real reading code (zlib's gzread, stb's FILE reader).
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& name)
      : path_((std::filesystem::temp_directory_path() /
               ("vireo_fuzz_" + name + "_" + std::to_string(::getpid()))).string()) {}
  ~ScratchFile() { std::remove(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  // Replaces the file's contents with `data` and returns its path.
  const std::string& write(const uint8_t* data, size_t size) {
    std::FILE* file = std::fopen(path_.c_str(), "wb");
    expect(file != nullptr, "the scratch file can be created");
    const bool written = size == 0 || std::fwrite(data, 1, size, file) == size;
    expect(std::fclose(file) == 0 && written, "the scratch file can be written");
    return path_;
  }

 private:
  std::string path_;
};

}  // namespace vireo::fuzz
