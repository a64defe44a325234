// vireo::Error and the checks every op uses to refuse bad arguments with a message that names the op.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace vireo {

// Every error Vireo raises on purpose is a vireo::Error, so callers can tell our refusals from bugs.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds the message from any streamable parts: fail("matmul: shapes ", a, " and ", b, " do not match").
template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw Error(message.str());
}

}  // namespace vireo

#define VIREO_CHECK(condition, ...)                 \
  do {                                              \
    if (!(condition)) ::vireo::fail(__VA_ARGS__);   \
  } while (0)
