// UTF-8 helpers shared by the JSON code and the tokenizer.
#ifndef SKILLSD_CORE_UTF8_H_
#define SKILLSD_CORE_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace skillsd {

// Appends the UTF-8 encoding of code point `cp` (<= U+10FFFF) to `out`.
void AppendUtf8(uint32_t cp, std::string* out);

// Length of the well-formed UTF-8 sequence starting at s[i] (1 to 4), or 0 when the bytes there are not one
// (bad lead byte, truncated, overlong, surrogate, or above U+10FFFF).
size_t Utf8SequenceLength(absl::string_view s, size_t i);

// `s` with every byte that does not start a well-formed sequence replaced by U+FFFD (for text that goes into
// proto string fields, which must be valid UTF-8: a model's sampled bytes need not be).
std::string ValidUtf8(absl::string_view s);

}  // namespace skillsd

#endif  // SKILLSD_CORE_UTF8_H_
