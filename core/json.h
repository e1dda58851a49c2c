// JSON for config.json, tokenizer.json, safetensors headers and tool output: a strict parser into a small DOM
// and a string quoter. No dependency (part of core_base, which the ML core builds on anywhere).
#ifndef SKILLSD_CORE_JSON_H_
#define SKILLSD_CORE_JSON_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace skillsd {

// A parsed JSON value. Objects keep their members in document order (duplicate keys are an error).
class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  JsonValue() = default;
  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }
  // True for numbers written without fraction or exponent that fit in int64.
  bool is_integer() const { return type_ == Type::kNumber && is_integer_; }

  bool bool_value() const { return bool_; }
  double number() const { return number_; }
  int64_t integer() const { return integer_; }
  const std::string& string() const { return string_; }
  const std::vector<JsonValue>& array() const { return array_; }
  const std::vector<std::pair<std::string, JsonValue>>& object() const { return object_; }

  // The member named `key` of an object; nullptr when absent or when this is not an object. Linear time.
  const JsonValue* Find(absl::string_view key) const;

  // "null", "bool", "number", "string", "array", "object".
  static absl::string_view TypeName(Type type);

 private:
  friend class JsonParser;
  Type type_ = Type::kNull;
  bool bool_ = false;
  bool is_integer_ = false;
  double number_ = 0;
  int64_t integer_ = 0;
  std::string string_;
  std::vector<JsonValue> array_;
  std::vector<std::pair<std::string, JsonValue>> object_;
};

// The shortest decimal text that reads back as exactly `value` ("0.2", not "0.20000000000000001"). Finite values
// only (JSON has no NaN or infinity).
std::string FormatDouble(double value);

// Parses one JSON document (RFC 8259). INVALID_ARGUMENT naming the byte offset for malformed text, invalid
// UTF-8 in strings, duplicate keys, nesting deeper than 256, or trailing garbage.
absl::StatusOr<JsonValue> ParseJson(absl::string_view text);

// `text` as a JSON string literal, quotes included. Control characters and invalid UTF-8 bytes are escaped
// (invalid bytes as \u00XX of their value, so the output is always valid JSON).
std::string JsonQuote(absl::string_view text);

}  // namespace skillsd

#endif  // SKILLSD_CORE_JSON_H_
