// JSON text helpers shared by tools and services (no dependency: Debian has no JSON library we use).
#ifndef SKILLSD_CORE_JSON_H_
#define SKILLSD_CORE_JSON_H_

#include <string>

#include "absl/strings/string_view.h"

namespace skillsd {

// `text` as a JSON string literal, quotes included. Control characters and invalid UTF-8 bytes are escaped
// (invalid bytes as \u00XX of their value, so the output is always valid JSON).
std::string JsonQuote(absl::string_view text);

}  // namespace skillsd

#endif  // SKILLSD_CORE_JSON_H_
