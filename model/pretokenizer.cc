#include "model/pretokenizer.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

namespace skillsd::model {
namespace {

bool IsLetter(UChar32 c) { return (U_MASK(u_charType(c)) & U_GC_L_MASK) != 0; }
bool IsNumber(UChar32 c) { return (U_MASK(u_charType(c)) & U_GC_N_MASK) != 0; }
// \s as ECMAScript defines it (the reference implementation's regex engine): line terminators, tab, vertical
// tab, form feed, U+FEFF and the space separators (Zs). (Rust/Oniguruma's \s differ only in U+0085 and U+FEFF.)
bool IsSpace(UChar32 c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0xFEFF || c == 0x2028 || c == 0x2029 || u_charType(c) == U_SPACE_SEPARATOR;
}
bool IsNewline(UChar32 c) { return c == '\r' || c == '\n'; }
UChar32 AsciiLower(UChar32 c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

}  // namespace

size_t MatchPreToken(const std::vector<UChar32>& s, size_t i) {
  const size_t n = s.size();
  const UChar32 c = s[i];
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
  if (c == '\'' && i + 1 < n) {
    const UChar32 a = AsciiLower(s[i + 1]);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    if (i + 2 < n) {
      const UChar32 b = AsciiLower(s[i + 2]);
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (!IsLetter(c) && !IsNumber(c) && !IsNewline(c) && i + 1 < n && IsLetter(s[i + 1])) {
    size_t j = i + 1;
    while (j < n && IsLetter(s[j])) ++j;
    return j;
  }
  if (IsLetter(c)) {
    size_t j = i;
    while (j < n && IsLetter(s[j])) ++j;
    return j;
  }
  // \p{N}
  if (IsNumber(c)) return i + 1;
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  auto other = [](UChar32 x) { return !IsSpace(x) && !IsLetter(x) && !IsNumber(x); };
  size_t j = i;
  if (c == ' ' && i + 1 < n && other(s[i + 1])) j = i + 1;
  if (other(s[j])) {
    while (j < n && other(s[j])) ++j;
    while (j < n && IsNewline(s[j])) ++j;
    return j;
  }
  // Whitespace: \s*[\r\n]+ | \s+(?!\S) | \s+
  size_t k = i;
  while (k < n && IsSpace(s[k])) ++k;
  if (k > i) {
    for (size_t p = k; p > i; --p) {
      if (IsNewline(s[p - 1])) return p;  // the run up to its last newline
    }
    if (k == n) return k;
    if (k - i >= 2) return k - 1;  // leave the last space to prefix the next word
    return k;
  }
  return i + 1;  // unreachable: every code point is a letter, a number, a space or "other"
}

std::vector<UChar32> ByteToCodePoint() {
  std::vector<UChar32> map(256);
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    map[b] = printable ? b : 256 + extra++;
  }
  return map;
}

std::vector<UChar32> NormalizedCodePoints(absl::string_view text, bool nfc) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  if (nfc) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* normalizer = icu::Normalizer2::getNFCInstance(status);
    if (U_SUCCESS(status)) {
      icu::UnicodeString normalized = normalizer->normalize(u, status);
      if (U_SUCCESS(status)) u = normalized;
    }
  }
  std::vector<UChar32> cps;
  cps.reserve(static_cast<size_t>(u.length()));
  for (int32_t i = 0; i < u.length(); i = u.moveIndex32(i, 1)) cps.push_back(u.char32At(i));
  return cps;
}

}  // namespace skillsd::model
