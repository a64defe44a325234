// Fuzz target: image files decoded with stb_image (training/data/image_io.h).
//
// What it feeds: the input is a whole file, written to a scratch file and decoded with decode_image, which
// hands PNG, JPEG, BMP and PNM files to stb_image and refuses every other format. The channel count asked
// for is 0 (as stored), 1, 3 or 4, picked by the input's length, so every conversion path runs.
//
// What counts as a bug: any crash, sanitizer report, timeout or out-of-memory (a small corrupt file must
// not make decoding allocate gigabytes); an exception that is not vireo::Error (a corrupt image must be
// refused with one); and an accepted image whose size disagrees with its pixels, has the wrong channel
// count, or holds a value outside [0, 1].
//
// In `make fuzz` this target links its own instrumented copy of stb_image (stb_image_instrumented.cpp,
// the header Debian's libstb was built from), which takes precedence over libstb.so, so that coverage
// and AddressSanitizer reach into the decoders themselves.
//
// Seeds (tools/fuzz/corpus/image, written by tools/fuzz/make_corpus.py): tiny PNGs (gray, gray+alpha,
// RGB, RGBA, palette, 16-bit, interlaced), two baseline JPEGs, a BMP, a PGM and a PPM; a TGA and a GIF,
// which must be refused; and the inputs of past findings (finding_*.bin).
#include "engine/error.h"
#include "fuzz_support.h"
#include "training/data/image_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static vireo::fuzz::ScratchFile file("image");
  const std::string& path = file.write(data, size);
  constexpr int64_t kChannelChoices[] = {0, 1, 3, 4};
  const int64_t channels = kChannelChoices[size % 4];
  try {
    const vireo::data::Image image = vireo::data::decode_image(path, channels);
    using vireo::fuzz::expect;
    expect(image.height > 0 && image.width > 0, "a decoded image has pixels");
    expect(channels == 0 ? image.channels >= 1 && image.channels <= 4 : image.channels == channels,
           "a decoded image has the channels asked for");
    expect(image.pixels.size() == static_cast<size_t>(image.numel()), "a decoded image holds height x width x channels values");
    for (float value : image.pixels) expect(value >= 0.0f && value <= 1.0f, "a decoded pixel lies in [0, 1]");
  } catch (const vireo::Error&) {
    // A refusal: what a corrupt image must get.
  }
  return 0;
}
