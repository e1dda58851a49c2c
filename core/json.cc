#include "core/json.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/utf8.h"

namespace skillsd {

// Recursive-descent parser over the whole text.
class JsonParser {
 public:
  explicit JsonParser(absl::string_view text) : text_(text) {}

  absl::StatusOr<JsonValue> ParseDocument() {
    JsonValue value;
    if (!ParseValue(&value, 0)) return Error();
    SkipWhitespace();
    if (pos_ != text_.size()) {
      message_ = "trailing characters after the document";
      return Error();
    }
    return value;
  }

 private:
  absl::Status Error() const { return absl::InvalidArgumentError(absl::StrCat("JSON: ", message_, " at byte ", pos_)); }
  bool Fail(const char* message) {
    message_ = message;
    return false;
  }
  void SkipWhitespace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(absl::string_view literal) {
    if (text_.substr(pos_, literal.size()) != literal) return false;
    pos_ += literal.size();
    return true;
  }

  bool ParseValue(JsonValue* out, int depth) {
    if (depth > 256) return Fail("nesting too deep");
    SkipWhitespace();
    if (pos_ >= text_.size()) return Fail("unexpected end of input");
    const char c = text_[pos_];
    switch (c) {
      case '{':
        return ParseObject(out, depth);
      case '[':
        return ParseArray(out, depth);
      case '"':
        out->type_ = JsonValue::Type::kString;
        return ParseString(&out->string_);
      case 't':
        if (!Consume("true")) return Fail("invalid literal");
        out->type_ = JsonValue::Type::kBool;
        out->bool_ = true;
        return true;
      case 'f':
        if (!Consume("false")) return Fail("invalid literal");
        out->type_ = JsonValue::Type::kBool;
        return true;
      case 'n':
        if (!Consume("null")) return Fail("invalid literal");
        out->type_ = JsonValue::Type::kNull;
        return true;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(out);
        return Fail("unexpected character");
    }
  }

  bool ParseObject(JsonValue* out, int depth) {
    out->type_ = JsonValue::Type::kObject;
    ++pos_;  // {
    SkipWhitespace();
    if (Consume("}")) return true;
    absl::flat_hash_set<std::string> keys;
    while (true) {
      SkipWhitespace();
      if (pos_ >= text_.size() || text_[pos_] != '"') return Fail("expected a member name");
      std::string key;
      if (!ParseString(&key)) return false;
      if (!keys.insert(key).second) return Fail("duplicate member name");
      SkipWhitespace();
      if (!Consume(":")) return Fail("expected ':'");
      JsonValue value;
      if (!ParseValue(&value, depth + 1)) return false;
      out->object_.emplace_back(std::move(key), std::move(value));
      SkipWhitespace();
      if (Consume("}")) return true;
      if (!Consume(",")) return Fail("expected ',' or '}'");
    }
  }

  bool ParseArray(JsonValue* out, int depth) {
    out->type_ = JsonValue::Type::kArray;
    ++pos_;  // [
    SkipWhitespace();
    if (Consume("]")) return true;
    while (true) {
      JsonValue value;
      if (!ParseValue(&value, depth + 1)) return false;
      out->array_.push_back(std::move(value));
      SkipWhitespace();
      if (Consume("]")) return true;
      if (!Consume(",")) return Fail("expected ',' or ']'");
    }
  }

  bool ParseHex4(uint32_t* value) {
    if (pos_ + 4 > text_.size()) return Fail("truncated \\u escape");
    *value = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[pos_++];
      *value <<= 4;
      if (h >= '0' && h <= '9') {
        *value |= static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        *value |= static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        *value |= static_cast<uint32_t>(h - 'A' + 10);
      } else {
        return Fail("invalid \\u escape");
      }
    }
    return true;
  }

  bool ParseString(std::string* out) {
    ++pos_;  // "
    while (true) {
      if (pos_ >= text_.size()) return Fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return Fail("control character in string");
      if (c == '\\') {
        ++pos_;
        if (pos_ >= text_.size()) return Fail("unterminated escape");
        const char e = text_[pos_++];
        switch (e) {
          case '"':
            out->push_back('"');
            break;
          case '\\':
            out->push_back('\\');
            break;
          case '/':
            out->push_back('/');
            break;
          case 'b':
            out->push_back('\b');
            break;
          case 'f':
            out->push_back('\f');
            break;
          case 'n':
            out->push_back('\n');
            break;
          case 'r':
            out->push_back('\r');
            break;
          case 't':
            out->push_back('\t');
            break;
          case 'u': {
            uint32_t cp;
            if (!ParseHex4(&cp)) return false;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              uint32_t low;
              if (!Consume("\\u") || !ParseHex4(&low) || low < 0xDC00 || low > 0xDFFF) {
                return Fail("unpaired surrogate");
              }
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
              return Fail("unpaired surrogate");
            }
            AppendUtf8(cp, out);
            break;
          }
          default:
            return Fail("invalid escape");
        }
        continue;
      }
      const size_t n = Utf8SequenceLength(text_, pos_);
      if (n == 0) return Fail("invalid UTF-8 in string");
      out->append(text_.data() + pos_, n);
      pos_ += n;
    }
  }

  bool ParseNumber(JsonValue* out) {
    const size_t start = pos_;
    bool integral = true;
    if (text_[pos_] == '-') ++pos_;
    if (pos_ >= text_.size()) return Fail("invalid number");
    if (text_[pos_] == '0') {
      ++pos_;
    } else if (text_[pos_] >= '1' && text_[pos_] <= '9') {
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    } else {
      return Fail("invalid number");
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      integral = false;
      ++pos_;
      if (pos_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        return Fail("invalid number");
      }
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (pos_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        return Fail("invalid number");
      }
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    }
    const std::string literal(text_.substr(start, pos_ - start));
    out->type_ = JsonValue::Type::kNumber;
    out->number_ = std::strtod(literal.c_str(), nullptr);
    if (!std::isfinite(out->number_)) return Fail("number out of range");
    if (integral) {
      errno = 0;
      const long long v = std::strtoll(literal.c_str(), nullptr, 10);
      if (errno == 0) {
        out->is_integer_ = true;
        out->integer_ = v;
      }
    }
    return true;
  }

  absl::string_view text_;
  size_t pos_ = 0;
  const char* message_ = "";
};

const JsonValue* JsonValue::Find(absl::string_view key) const {
  for (const auto& [k, v] : object_) {
    if (k == key) return &v;
  }
  return nullptr;
}

absl::string_view JsonValue::TypeName(Type type) {
  static constexpr absl::string_view kNames[] = {"null", "bool", "number", "string", "array", "object"};
  return kNames[static_cast<int>(type)];
}

std::string FormatDouble(double value) {
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

absl::StatusOr<JsonValue> ParseJson(absl::string_view text) { return JsonParser(text).ParseDocument(); }

std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  out.reserve(text.size() + 2);
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        ++i;
        continue;
      case '\\':
        out += "\\\\";
        ++i;
        continue;
      case '\n':
        out += "\\n";
        ++i;
        continue;
      case '\r':
        out += "\\r";
        ++i;
        continue;
      case '\t':
        out += "\\t";
        ++i;
        continue;
      default:
        break;
    }
    const size_t n = Utf8SequenceLength(text, i);
    if (c < 0x20 || n == 0) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
      out += buffer;
      ++i;
    } else {
      out.append(text.data() + i, n);
      i += n;
    }
  }
  out += '"';
  return out;
}

}  // namespace skillsd
