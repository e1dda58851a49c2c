#include "core/json.h"

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
