// Helpers the data suites share: a scratch folder that cleans up after itself, and a scoped environment
// variable.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace vireo::testing {

// A fresh empty folder under the system temp folder (unique to this process), removed at scope exit.
struct TempFolder {
  std::filesystem::path path;
  explicit TempFolder(const std::string& name)
      : path(std::filesystem::temp_directory_path() / ("vireo_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempFolder() { std::filesystem::remove_all(path); }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  std::string operator/(const std::string& file) const { return (path / file).string(); }
};

// Sets an environment variable for the scope, unsetting it at exit.
struct ScopedEnvironment {
  std::string name;
  ScopedEnvironment(const char* variable, const std::string& value) : name(variable) {
    ::setenv(variable, value.c_str(), 1);
  }
  ~ScopedEnvironment() { ::unsetenv(name.c_str()); }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;
};

}  // namespace vireo::testing
