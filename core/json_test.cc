#include "core/json.h"
#include "core/utf8.h"

#include "gtest/gtest.h"

namespace skillsd {
namespace {

TEST(JsonQuoteTest, EscapesWhatJsonRequires) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c\nd\te"), "\"a\\\"b\\\\c\\nd\\te\"");
  EXPECT_EQ(JsonQuote(std::string("\x01\0", 2)), "\"\\u0001\\u0000\"");
}

TEST(JsonQuoteTest, KeepsValidUtf8AndEscapesInvalidBytes) {
  EXPECT_EQ(JsonQuote("\xE2\x88\x9A \xE4\xBD\xA0 \xF0\x9F\x98\x80"), "\"\xE2\x88\x9A \xE4\xBD\xA0 \xF0\x9F\x98\x80\"");
  EXPECT_EQ(JsonQuote("\xff"), "\"\\u00ff\"");
  EXPECT_EQ(JsonQuote("\xE2\x88"), "\"\\u00e2\\u0088\"");             // truncated sequence
  EXPECT_EQ(JsonQuote("\xC0\xAF"), "\"\\u00c0\\u00af\"");             // overlong
  EXPECT_EQ(JsonQuote("\xED\xA0\x80"), "\"\\u00ed\\u00a0\\u0080\"");  // surrogate
}

}  // namespace
}  // namespace skillsd

namespace skillsd {
namespace {

TEST(ParseJsonTest, Values) {
  auto v = ParseJson(
      R"( {"a": [1, -2.5, 3e2, true, false, null], "b": {"c": "x\u00e9\ud83d\ude00\n"}, "big": 12345678901} )");
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_TRUE(v->is_object());
  const JsonValue* a = v->Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->array().size(), 6u);
  EXPECT_TRUE(a->array()[0].is_integer());
  EXPECT_EQ(a->array()[0].integer(), 1);
  EXPECT_FALSE(a->array()[1].is_integer());
  EXPECT_DOUBLE_EQ(a->array()[1].number(), -2.5);
  EXPECT_DOUBLE_EQ(a->array()[2].number(), 300);
  EXPECT_FALSE(a->array()[2].is_integer());
  EXPECT_TRUE(a->array()[3].bool_value());
  EXPECT_TRUE(a->array()[5].is_null());
  EXPECT_EQ(v->Find("b")->Find("c")->string(), "x\xC3\xA9\xF0\x9F\x98\x80\n");
  EXPECT_EQ(v->Find("big")->integer(), 12345678901);
  EXPECT_EQ(v->Find("missing"), nullptr);
}

TEST(ParseJsonTest, RoundTripsQuotedStrings) {
  const std::string text = std::string("tab\t quote\" backslash\\ nul") + std::string(1, '\0') + "\xE2\x88\x9A";
  auto v = ParseJson(JsonQuote(text));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->string(), text);
}

TEST(ParseJsonTest, RejectsMalformedInput) {
  for (const char* bad : {"",      "{",        "[1,]",        "{\"a\":1,}",  "{\"a\" 1}",
                          "01",    "1.",       "-",           "1e",          "tru",
                          "\"abc", "\"\\x\"",  "\"\\ud800\"", "\"\\udc00\"", "{\"a\":1,\"a\":2}",
                          "[1] 2", "\"\x01\"", "\"\xff\"",    "NaN",         "1e999"}) {
    auto v = ParseJson(bad);
    EXPECT_FALSE(v.ok()) << "accepted: " << bad;
    if (!v.ok()) EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(ParseJson(std::string(300, '[') + std::string(300, ']')).ok());
  EXPECT_TRUE(ParseJson(std::string(200, '[') + std::string(200, ']')).ok());
}

}  // namespace
}  // namespace skillsd

namespace skillsd {
namespace {

TEST(Utf8Test, ValidUtf8ReplacesOnlyBrokenBytes) {
  EXPECT_EQ(ValidUtf8("plain \xE2\x88\x9A ok"), "plain \xE2\x88\x9A ok");
  // A truncated 3-byte sequence, a lone continuation byte, an overlong encoding.
  EXPECT_EQ(ValidUtf8("a\xE2\x88"), "a\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ValidUtf8("\x80x"), "\xEF\xBF\xBDx");
  EXPECT_EQ(ValidUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ValidUtf8(""), "");
}

}  // namespace
}  // namespace skillsd
