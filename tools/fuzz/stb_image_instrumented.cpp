// stb_image compiled into the image fuzz target, for `make fuzz` only.
//
// Debian's libstb.so is built without coverage instrumentation or AddressSanitizer, so libFuzzer would
// decode images blind and ASan would miss an overflow inside a decoder. This file compiles the same
// header (libstb-dev ships the source libstb.so was built from) with the fuzzing flags. The executable's
// definitions of stbi_load, stbi_image_free and stbi_failure_reason come first in the dynamic linker's
// search, so libvireo_training.so's decode_image calls this copy.
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
