#include "model/tokenizer.h"

#include "model/chat.h"

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skillsd::model {
namespace {

using ::skillsd::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A tiny byte-level BPE tokenizer.json: the 256 byte tokens (GPT-2's byte -> code point map, built here
// independently), merges "h e" -> "he", "he l" -> "hel", "Ġ w" -> "Ġw", and one special token.
std::string TinyTokenizerJson(const std::string& extra_pre = "") {
  std::vector<int> cps;
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    cps.push_back(printable ? b : 256 + n++);
  }
  auto utf8 = [](int cp) {
    std::string s;
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    return s;
  };
  std::string vocab;
  for (int b = 0; b < 256; ++b) absl::StrAppend(&vocab, b ? ", " : "", JsonQuote(utf8(cps[b])), ": ", b);
  absl::StrAppend(&vocab, ", \"he\": 256, \"hel\": 257, ", JsonQuote(utf8(cps[' ']) + "w"), ": 258");
  const std::string pattern =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| "
      "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|"
      "\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+";
  return absl::StrCat(
      R"({"added_tokens": [{"id": 259, "content": "<|end|>", "special": true}], "normalizer": {"type": "NFC"},
      "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": ")",
      pattern, R"("}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false,
      "trim_offsets": false, "use_regex": false})",
      extra_pre, R"(]},
      "decoder": {"type": "ByteLevel"}, "model": {"type": "BPE", "byte_fallback": false, "vocab": {)",
      vocab, R"(}, "merges": [["h", "e"], "he l", [")", utf8(cps[' ']), R"(", "w"]]}})");
}

TEST(TokenizerTest, MergesByRankAndRoundTrips) {
  ASSERT_OK_AND_ASSIGN(auto tok, Tokenizer::FromJson(TinyTokenizerJson()));
  EXPECT_EQ(tok->vocab_size(), 260);
  EXPECT_THAT(tok->Encode("hello"), ElementsAre(257, 'l', 'o'));
  // " w" merges, "he" merges; the space before "hello" forms its own pre-token with the word.
  EXPECT_THAT(tok->Encode("he w"), ElementsAre(256, 258));
  EXPECT_THAT(tok->Encode("hi<|end|>he"), ElementsAre('h', 'i', 259, 256));
  EXPECT_THAT(tok->EncodeOrdinary("<|end|>"), ::testing::Not(::testing::Contains(259)));
  for (const std::string text : {"hello world", "a\n\n  b", "tab\there", "√ ünïcödé 你好 😀", "<|end|>x"}) {
    EXPECT_EQ(tok->Decode(tok->Encode(text)), text);
  }
  EXPECT_EQ(tok->TokenId("<|end|>"), 259);
  EXPECT_EQ(tok->TokenId("hel"), 257);
  EXPECT_EQ(tok->TokenId("nope"), -1);
  EXPECT_EQ(tok->Decode({999, -1, 256}), "he");
}

TEST(TokenizerTest, TrainsASmallBpeVocabulary) {
  std::vector<std::string> corpus;
  for (int i = 0; i < 5; ++i) {
    for (const char* text : {"<answer>Up || Left</answer>", "<answer>Down || Right</answer>", "######\n#P_X_#\n######",
                             "Boxes on targets: 1/2."}) {
      corpus.push_back(text);
    }
  }
  // Asks for more tokens than the corpus supports: training stops once every word is one token.
  const std::string json = Tokenizer::TrainBpeJson(corpus, 1000, {"<|im_start|>", "<|im_end|>"});
  ASSERT_OK_AND_ASSIGN(auto tok, Tokenizer::FromJson(json));
  EXPECT_LT(tok->vocab_size(), 1000);
  EXPECT_EQ(tok->TokenId("<|im_end|>"), tok->vocab_size() - 1);
  ASSERT_OK_AND_ASSIGN(auto small, Tokenizer::FromJson(Tokenizer::TrainBpeJson(corpus, 270, {})));
  EXPECT_EQ(small->vocab_size(), 270);
  // Frequent words became single tokens: one token per pre-token ("<answer", ">Up", " ||", " Left", "</",
  // "answer", ">"), and everything still round-trips.
  EXPECT_EQ(tok->Encode("<answer>Up || Left</answer>").size(), 7u);
  for (const std::string text : {"<answer>Up || Left</answer>", "unseen text ü 😀", "<|im_start|>user\nhi"}) {
    EXPECT_EQ(tok->Decode(tok->Encode(text)), text);
  }
  EXPECT_EQ(Tokenizer::TrainBpeJson(corpus, 280, {}), Tokenizer::TrainBpeJson(corpus, 280, {}));
  // Isolated characters: a grid row is one token per cell (the 3-byte √ still one token), other text as before.
  corpus.push_back("#\xE2\x88\x9A_#");
  corpus.push_back("#\xE2\x88\x9A_#");  // a merge needs two occurrences
  ASSERT_OK_AND_ASSIGN(auto grid, Tokenizer::FromJson(Tokenizer::TrainBpeJson(corpus, 1000, {}, "#_PX\xE2\x88\x9A")));
  EXPECT_EQ(grid->Encode("######").size(), 6u);
  EXPECT_EQ(grid->Encode("#P_X_#").size(), 6u);
  EXPECT_EQ(grid->Encode("#\xE2\x88\x9A_#").size(), 4u);
  EXPECT_EQ(grid->Encode("<answer>Up || Left</answer>").size(), 7u);
  EXPECT_LT(tok->Encode("######").size(), 6u);  // without isolation the row merges
}

TEST(TokenizerTest, InvalidUtf8BecomesReplacementCharacters) {
  ASSERT_OK_AND_ASSIGN(auto tok, Tokenizer::FromJson(TinyTokenizerJson()));
  EXPECT_EQ(tok->Decode(tok->Encode("a\xff"
                                    "b")),
            "a\xEF\xBF\xBD"
            "b");
}

TEST(TokenizerTest, RejectsUnsupportedTokenizers) {
  EXPECT_THAT(Tokenizer::FromJson("[]"), StatusIs(absl::StatusCode::kInvalidArgument));
  std::string json = TinyTokenizerJson();
  std::string wordpiece = json;
  wordpiece.replace(wordpiece.find("\"type\": \"BPE\""), 13, "\"type\": \"WordPiece\"");
  EXPECT_THAT(Tokenizer::FromJson(wordpiece), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("BPE")));
  std::string nfkc = json;
  nfkc.replace(nfkc.find("\"NFC\""), 5, "\"NFKC\"");
  EXPECT_THAT(Tokenizer::FromJson(nfkc), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("normalizer")));
  std::string bad_merge = json;
  bad_merge.replace(bad_merge.find("\"he l\""), 6, "\"zz q\"");
  EXPECT_THAT(Tokenizer::FromJson(bad_merge), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("merge 1")));
  EXPECT_THAT(Tokenizer::FromJson(TinyTokenizerJson(", {\"type\": \"Digits\"}")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Digits")));
  EXPECT_THAT(Tokenizer::FromFile("/nonexistent/tokenizer.json"), StatusIs(absl::StatusCode::kNotFound));
}

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// Parity on the real Qwen3 tokenizer; run by model/tokenizer_parity.sh, which provides the files.
TEST(Qwen3TokenizerTest, MatchesTheReferenceImplementation) {
  const char* path = std::getenv("SKILLSD_QWEN3_TOKENIZER");
  const char* corpus = std::getenv("SKILLSD_TOKENIZER_CORPUS");
  const char* expected = std::getenv("SKILLSD_TOKENIZER_EXPECTED");
  if (path == nullptr || corpus == nullptr || expected == nullptr) GTEST_SKIP() << "run via tokenizer_parity.sh";
  ASSERT_OK_AND_ASSIGN(auto tok, Tokenizer::FromFile(path));
  EXPECT_EQ(tok->vocab_size(), 151669);
  EXPECT_EQ(tok->TokenId("<|im_start|>"), 151644);
  std::ifstream in_corpus(corpus), in_expected(expected);
  std::string hex, ids_json;
  int items = 0, tokens = 0;
  while (std::getline(in_corpus, hex)) {
    ASSERT_TRUE(std::getline(in_expected, ids_json)) << "reference output too short";
    ASSERT_OK_AND_ASSIGN(JsonValue ids, ParseJson(ids_json));
    std::vector<int32_t> want;
    for (const JsonValue& id : ids.array()) want.push_back(static_cast<int32_t>(id.integer()));
    const std::string text = FromHex(hex);
    const std::vector<int32_t> got = tok->Encode(text);
    EXPECT_EQ(got, want) << "item " << items << ": " << JsonQuote(text);
    ++items;
    tokens += static_cast<int>(got.size());
  }
  EXPECT_GE(items, 200);
  std::cout << "parity: " << items << " texts, " << tokens << " tokens identical\n";
}

TEST(Qwen3TokenizerTest, DecodeInvertsEncodeOnValidText) {
  const char* path = std::getenv("SKILLSD_QWEN3_TOKENIZER");
  if (path == nullptr) GTEST_SKIP() << "run via tokenizer_parity.sh";
  ASSERT_OK_AND_ASSIGN(auto tok, Tokenizer::FromFile(path));
  for (const std::string text : {"Hello, world!", "你好，世界 🌍", "<|im_start|>user\nhi<|im_end|>\n", "  x\n\n  y\t",
                                 "######\n#P_X_#\n#__O_#\n######"}) {
    EXPECT_EQ(tok->Decode(tok->Encode(text)), text);
  }
}

// Segment-wise ChatML equals tokenizing the whole rendered conversation, on the real Qwen3 tokenizer.
TEST(Qwen3TokenizerTest, ChatSegmentsEqualWholeConversation) {
  const char* path = std::getenv("SKILLSD_QWEN3_TOKENIZER");
  if (path == nullptr) GTEST_SKIP() << "run via tokenizer_parity.sh";
  ASSERT_OK_AND_ASSIGN(auto tok, Tokenizer::FromFile(path));
  ASSERT_OK_AND_ASSIGN(ChatTemplate chat, ChatTemplate::Create(tok.get()));
  const std::string system = "You are solving a Sokoban puzzle.";
  const std::string user = "Moves left: 40.\n######\n#P_X_#\n######";
  const std::string assistant = "<answer>Right || Right</answer>";
  std::vector<int32_t> segments = chat.Message("system", system);
  for (const auto& part : {chat.Message("user", user), chat.Message("assistant", assistant), chat.GenerationPrompt()}) {
    segments.insert(segments.end(), part.begin(), part.end());
  }
  const std::string whole = "<|im_start|>system\n" + system + "<|im_end|>\n<|im_start|>user\n" + user +
                            "<|im_end|>\n<|im_start|>assistant\n" + assistant + "<|im_end|>\n<|im_start|>assistant\n";
  EXPECT_EQ(segments, tok->Encode(whole));
  EXPECT_EQ(chat.end_of_turn(), 151645);
  // Control tokens inside content stay text.
  const std::vector<int32_t> injected = chat.Content("<|im_end|>");
  EXPECT_EQ(std::count(injected.begin(), injected.end(), 151645), 0);
}

TEST(ChatTemplateTest, NeedsChatTokens) {
  ASSERT_OK_AND_ASSIGN(auto tok, Tokenizer::FromJson(TinyTokenizerJson()));
  EXPECT_THAT(ChatTemplate::Create(tok.get()), StatusIs(absl::StatusCode::kNotFound, HasSubstr("im_start")));
}

}  // namespace
}  // namespace skillsd::model
