#include "env_workers/sokoban_env.h"

#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skillsd::sokoban {
namespace {

using ::skillsd::testing::StatusIs;
using ::testing::HasSubstr;

std::vector<std::string> Items(const ParsedAnswer& p) {
  std::vector<std::string> out;
  for (const AnswerItem& item : p.items)
    out.push_back(item.valid ? std::string(ActionName(item.action)) : "!" + item.text);
  return out;
}

TEST(ParseAnswerTest, Basic) {
  ParsedAnswer p = ParseAnswer("I think <answer>Up || Left</answer>", 3);
  EXPECT_TRUE(p.found);
  EXPECT_THAT(Items(p), ::testing::ElementsAre("Up", "Left"));
  EXPECT_EQ(p.dropped, 0);
}

TEST(ParseAnswerTest, CaseAndWhitespace) {
  EXPECT_THAT(Items(ParseAnswer("<ANSWER>  up||RIGHT \n|| dOwN</Answer>", 3)),
              ::testing::ElementsAre("Up", "Right", "Down"));
}

TEST(ParseAnswerTest, InvalidItemsAreKeptAsInvalid) {
  ParsedAnswer p = ParseAnswer("<answer>Up || jump || </answer>", 3);
  EXPECT_THAT(Items(p), ::testing::ElementsAre("Up", "!jump", "!"));
}

TEST(ParseAnswerTest, TooManyItemsAreDropped) {
  ParsedAnswer p = ParseAnswer("<answer>Up||Up||Up||Up||Left</answer>", 3);
  EXPECT_EQ(p.items.size(), 3u);
  EXPECT_EQ(p.dropped, 2);
}

TEST(ParseAnswerTest, NoUsableAnswer) {
  EXPECT_FALSE(ParseAnswer("", 3).found);
  EXPECT_FALSE(ParseAnswer("Up || Left", 3).found);
  EXPECT_FALSE(ParseAnswer("<answer>   </answer>", 3).found);
  EXPECT_FALSE(ParseAnswer("<answer></answer>Up", 3).found);
  EXPECT_FALSE(ParseAnswer("<answe", 3).found);
}

TEST(ParseAnswerTest, FirstTagWinsAndMissingCloseRunsToTheEnd) {
  EXPECT_THAT(Items(ParseAnswer("<answer>Down</answer><answer>Up</answer>", 3)), ::testing::ElementsAre("Down"));
  EXPECT_THAT(Items(ParseAnswer("<answer>Left || Right", 3)), ::testing::ElementsAre("Left", "Right"));
}

TEST(ParseAnswerTest, ArbitraryBytes) {
  const std::string bytes("<answer>\0\xff\xfe||Up\x80</answer>\0", 28);
  ParsedAnswer p = ParseAnswer(bytes, 3);
  EXPECT_TRUE(p.found);
  EXPECT_EQ(p.items.size(), 2u);
  EXPECT_FALSE(p.items[0].valid);
  EXPECT_FALSE(p.items[1].valid);
  // Long garbage is truncated in the echo.
  p = ParseAnswer("<answer>" + std::string(1000, 'x') + "</answer>", 3);
  EXPECT_EQ(p.items[0].text.size(), 64u);
}

class SokobanEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto set = LevelSet::Build(LevelSetOptions());
    ASSERT_TRUE(set.ok());
    levels_ = *set;
  }
  std::string AnswerFor(const std::vector<Action>& actions) {
    std::string out = "<answer>";
    for (size_t i = 0; i < actions.size(); ++i) {
      if (i > 0) out += " || ";
      out += std::string(ActionName(actions[i]));
    }
    return out + "</answer>";
  }
  std::shared_ptr<const LevelSet> levels_;
};

TEST_F(SokobanEnvTest, OptimalPlayGivesTheExpectedReturn) {
  SokobanEnv env(levels_, SokobanEnvOptions());
  ASSERT_OK_AND_ASSIGN(EnvTurn start, env.Reset({Split::kTest, 3, 0}));
  EXPECT_EQ(start.task_id, "sokoban/test/3");
  EXPECT_FALSE(start.done);
  const Level level = levels_->levels(Split::kTest)[3];
  const int on_target_at_start = Board(level).boxes_on_target();
  const std::vector<Action>& plan = level.optimal_actions;
  EnvTurn last;
  double total = 0;
  for (size_t i = 0; i < plan.size(); i += 3) {
    std::vector<Action> chunk(plan.begin() + i, plan.begin() + std::min(plan.size(), i + 3));
    ASSERT_OK_AND_ASSIGN(last, env.Step(AnswerFor(chunk)));
    total += last.reward;
  }
  EXPECT_TRUE(last.done);
  EXPECT_TRUE(last.totals.solved);
  EXPECT_FALSE(last.totals.truncated);
  EXPECT_DOUBLE_EQ(last.totals.completion, 1.0);
  EXPECT_EQ(last.totals.steps, level.optimal_length);
  EXPECT_EQ(last.totals.turns, static_cast<int>((plan.size() + 2) / 3));
  // gym-sokoban arithmetic: -0.1 per step, +1 per box onto a target net of boxes pushed off, +10 when solved.
  const double expected = -0.1 * level.optimal_length + (2 - on_target_at_start) + 10.0;
  EXPECT_NEAR(last.totals.episode_return, expected, 1e-9);
  EXPECT_NEAR(total, expected, 1e-9);
  EXPECT_THAT(env.Step("<answer>Up</answer>"), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(SokobanEnvTest, InvalidAnswersCostAStepAndAreCounted) {
  SokobanEnv env(levels_, SokobanEnvOptions());
  ASSERT_OK(env.Reset({Split::kTrain, 0, 0}).status());
  const std::string before = env.level().Grid();
  ASSERT_OK_AND_ASSIGN(EnvTurn turn, env.Step("no answer here"));
  EXPECT_NEAR(turn.reward, -0.1, 1e-12);
  EXPECT_EQ(turn.totals.steps, 1);
  EXPECT_EQ(turn.totals.invalid_actions, 1);
  ASSERT_EQ(turn.events.size(), 1u);
  EXPECT_TRUE(turn.events[0].invalid);
  EXPECT_THAT(turn.observation, HasSubstr("no <answer>"));
  std::string board;
  env.board().Render(&board);
  EXPECT_EQ(board, before);  // nothing moved
  ASSERT_OK_AND_ASSIGN(turn, env.Step("<answer>fly || Up || Up || Up || Up</answer>"));
  EXPECT_EQ(turn.totals.invalid_actions, 1 + 1 + 2);  // "fly" plus two dropped items
  EXPECT_EQ(turn.totals.steps, 1 + 3);
}

TEST_F(SokobanEnvTest, StepLimitTruncates) {
  SokobanEnvOptions options;
  options.max_steps = 5;
  SokobanEnv env(levels_, options);
  ASSERT_OK(env.Reset({Split::kTrain, 1, 0}).status());
  EnvTurn turn;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(turn, env.Step("<answer>nothing</answer>"));
  }
  EXPECT_TRUE(turn.done);
  EXPECT_TRUE(turn.totals.truncated);
  EXPECT_FALSE(turn.totals.solved);
  EXPECT_EQ(turn.totals.steps, 5);
  EXPECT_LT(turn.totals.completion, 1.0);
}

TEST_F(SokobanEnvTest, BadResetChangesNothing) {
  SokobanEnv env(levels_, SokobanEnvOptions());
  EXPECT_THAT(env.Step("<answer>Up</answer>"), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_OK(env.Reset({Split::kTrain, 2, 0}).status());
  EXPECT_THAT(env.Reset({Split::kTest, 64, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range")));
  // The episode on train/2 still runs.
  ASSERT_OK_AND_ASSIGN(EnvTurn turn, env.Step("<answer>Up</answer>"));
  EXPECT_EQ(turn.task_id, "sokoban/train/2");
}

TEST_F(SokobanEnvTest, TextInterface) {
  SokobanEnv env(levels_, SokobanEnvOptions());
  const std::string& prompt = env.spec().system_prompt;
  for (const char* needle : {"# wall", "_ floor", "O target", "X box", "\xE2\x88\x9A box on target", "P player",
                             "S player on target", "<answer>Up || Left</answer>", "40 moves"}) {
    EXPECT_THAT(prompt, HasSubstr(needle));
  }
  EXPECT_EQ(env.spec().train_levels, 96);
  EXPECT_EQ(env.spec().test_levels, 64);
  ASSERT_OK_AND_ASSIGN(EnvTurn turn, env.Reset({Split::kProcedural, 0, 12345}));
  EXPECT_EQ(turn.task_id, "sokoban/procedural/12345");
  EXPECT_THAT(turn.observation, HasSubstr("Moves left: 40. Boxes on targets: "));
  EXPECT_THAT(turn.observation, HasSubstr(env.level().Grid()));
}

}  // namespace
}  // namespace skillsd::sokoban
