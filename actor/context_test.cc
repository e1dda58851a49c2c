#include "actor/context.h"

#include "absl/strings/str_cat.h"
#include "actor/test_tokenizer.h"
#include "core/logging.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/inference.h"
#include "model/test_model.h"
#include "model/transformer.h"

namespace skillsd::actor {
namespace {

TEST(ContextTest, OneTurnWindowWithSkillSlot) {
  auto tok = TinyTokenizer();
  ASSERT_OK_AND_ASSIGN(model::ChatTemplate chat, model::ChatTemplate::Create(tok.get()));
  const std::vector<int32_t> skill = chat.Content("\n\nHint: Up");
  const auto segments = BuildContext(chat, "Rules.", {{"old grid", {5, 6}}}, "new grid", 1, skill);
  // [PROMPT system + user header + observation] [SKILL_SLOT skill] [PROMPT footer + generation prompt]
  ASSERT_EQ(segments.size(), 3u);
  EXPECT_EQ(segments[0].role(), skillsd::v1::SEGMENT_ROLE_PROMPT);
  EXPECT_EQ(segments[1].role(), skillsd::v1::SEGMENT_ROLE_SKILL_SLOT);
  EXPECT_EQ(segments[2].role(), skillsd::v1::SEGMENT_ROLE_PROMPT);
  std::vector<int32_t> want = chat.Message("system", "Rules.");
  for (const auto& part :
       {chat.Header("user"), chat.Content("new grid"), skill, chat.Footer(), chat.GenerationPrompt()}) {
    want.insert(want.end(), part.begin(), part.end());
  }
  EXPECT_EQ(Flatten(segments), want);
  // The student's context has an empty slot and is otherwise the same tokens.
  const auto student = BuildContext(chat, "Rules.", {{"old grid", {5, 6}}}, "new grid", 1, {});
  EXPECT_EQ(student[1].token_ids_size(), 0);
  EXPECT_EQ(Flatten(student).size() + skill.size(), want.size());
}

TEST(ContextTest, LongerWindowsKeepPastTurns) {
  auto tok = TinyTokenizer();
  ASSERT_OK_AND_ASSIGN(model::ChatTemplate chat, model::ChatTemplate::Create(tok.get()));
  const std::vector<Turn> history = {{"g1", {7}}, {"g2", {8, chat.end_of_turn()}}};
  const auto two = Flatten(BuildContext(chat, "R", history, "g3", 2, {}));
  std::vector<int32_t> want = chat.Message("system", "R");
  for (const auto& part : {chat.Header("user"), chat.Content("g2"), chat.Footer(), chat.GenerationPrompt(),
                           std::vector<int32_t>{8, chat.end_of_turn()}, std::vector<int32_t>{chat.Footer().back()},
                           chat.Header("user"), chat.Content("g3"), chat.Footer(), chat.GenerationPrompt()}) {
    want.insert(want.end(), part.begin(), part.end());
  }
  EXPECT_EQ(two, want);
  EXPECT_GT(Flatten(BuildContext(chat, "R", history, "g3", 0, {})).size(), two.size());  // full history
}

// `slots` in-process Sokoban envs over the default level set, episodes of at most `max_steps`.
}  // namespace
}  // namespace skillsd::actor
