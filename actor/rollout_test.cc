#include "actor/rollout.h"

#include "absl/strings/str_cat.h"
#include "actor/test_tokenizer.h"
#include "core/logging.h"
#include "core/status_matchers.h"
#include "core/utf8.h"
#include "env_workers/env_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/inference.h"
#include "model/test_model.h"
#include "model/transformer.h"

namespace skillsd::actor {
namespace {

std::vector<std::unique_ptr<Env>> SokobanEnvs(int slots, int max_steps) {
  auto levels = BuildLevelSet(EnvConfig());
  SKILLSD_CHECK(levels.ok()) << levels.status();
  EnvConfig env_config;
  env_config.max_steps = max_steps;
  std::vector<std::unique_ptr<Env>> envs;
  for (int i = 0; i < slots; ++i) {
    envs.push_back(std::make_unique<sokoban::SokobanEnv>(*levels, SokobanEnvOptionsFromConfig(env_config)));
  }
  return envs;
}

TEST(RolloutTest, PlaysEpisodesToTheEnd) {
  auto tok = TinyTokenizer();
  ASSERT_OK_AND_ASSIGN(model::ChatTemplate chat, model::ChatTemplate::Create(tok.get()));
  model::CausalLM lm =
      model::RandomModel(model::TestModelConfig(tok->vocab_size(), /*hidden=*/16, /*layers=*/1, /*heads=*/2,
                                                /*kv_heads=*/1),
                         1);
  LocalEnvBatch batch(SokobanEnvs(3, /*max_steps=*/6));
  std::vector<EnvTask> tasks;
  for (int i = 0; i < 3; ++i) tasks.push_back({Split::kTest, i, 0});
  PlayOptions options;
  options.sampling.max_new_tokens = 8;
  ASSERT_OK_AND_ASSIGN(std::vector<EpisodeResult> results, PlayEpisodes(*lm, *tok, chat, batch, tasks, options));
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) {
    EXPECT_EQ(r.totals.steps, 6);  // a random model does not solve a level in 6 steps
    EXPECT_TRUE(r.totals.truncated);
    ASSERT_EQ(static_cast<int>(r.turns.size()), r.totals.turns);
    for (const TurnRecord& t : r.turns) {
      ASSERT_FALSE(t.generated.empty());
      EXPECT_EQ(t.generated.size(), t.logprobs.size());
      for (float lp : t.logprobs) EXPECT_LE(lp, 0.0f);
      EXPECT_FALSE(t.events.empty());
      // The decoded answer, made valid UTF-8 (a random model samples arbitrary bytes).
      EXPECT_EQ(t.answer, ValidUtf8(tok->Decode(std::vector<int32_t>(
                              t.generated.begin(), t.generated.end() - (t.generated.back() == chat.end_of_turn())))));
    }
    // A one-turn window: each turn's input is the system prompt and that turn's observation only.
    EXPECT_EQ(Flatten(r.turns[1].context),
              Flatten(BuildContext(chat, batch.spec().system_prompt, {}, r.turns[1].observation, 1, {})));
  }
  EXPECT_EQ(results[2].task_id, "sokoban/test/2");
  // More tasks than slots is an error, not a crash.
  tasks.push_back({Split::kTest, 3, 0});
  EXPECT_THAT(PlayEpisodes(*lm, *tok, chat, batch, tasks, options).status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

// Full history: each turn's input extends the last one's (input + answer), so the episode's sequence stays in the
// decode batch and only the new tokens are prefilled; the behaviour log-probs must still equal a fresh scoring of
// every turn's input and answer.
TEST(RolloutTest, FullHistoryKeepsTheCacheAndLogprobsEqualScoring) {
  auto tok = TinyTokenizer();
  ASSERT_OK_AND_ASSIGN(model::ChatTemplate chat, model::ChatTemplate::Create(tok.get()));
  model::CausalLM lm =
      model::RandomModel(model::TestModelConfig(tok->vocab_size(), /*hidden=*/16, /*layers=*/2, /*heads=*/2,
                                                /*kv_heads=*/1),
                         2);
  LocalEnvBatch batch(SokobanEnvs(3, /*max_steps=*/4));
  std::vector<EnvTask> tasks;
  for (int i = 0; i < 3; ++i) tasks.push_back({Split::kTest, i % 2, 0});  // two episodes of one level: same first input
  PlayOptions options;
  options.history_turns = 0;
  options.sampling.max_new_tokens = 6;
  options.sampling.seed = 3;
  ASSERT_OK_AND_ASSIGN(std::vector<EpisodeResult> results, PlayEpisodes(*lm, *tok, chat, batch, tasks, options));
  int extended = 0;
  for (const auto& r : results) {
    ASSERT_GE(r.turns.size(), 2u);
    for (size_t k = 0; k < r.turns.size(); ++k) {
      const std::vector<int32_t> input = Flatten(r.turns[k].context);
      if (k > 0) {
        std::vector<int32_t> held = Flatten(r.turns[k - 1].context);
        held.insert(held.end(), r.turns[k - 1].generated.begin(), r.turns[k - 1].generated.end());
        if (held.size() < input.size() && std::equal(held.begin(), held.end(), input.begin())) ++extended;
      }
      ASSERT_OK_AND_ASSIGN(model::ScoredBatch scored, model::ScoreBatch(*lm, {{input, r.turns[k].generated}}));
      for (size_t j = 0; j < r.turns[k].generated.size(); ++j) {
        EXPECT_NEAR(r.turns[k].logprobs[j], scored.logprobs[0][j].item<float>(), 1e-4)
            << "turn " << k << " token " << j;
      }
    }
  }
  EXPECT_GT(extended, 0);  // the KV-reuse path ran
}

// Episodes of one move per turn, ending after spec().max_steps; slot 0's second move is a deadlock.
class ScriptedEnvBatch : public EnvBatch {
 public:
  explicit ScriptedEnvBatch(size_t slots) : totals_(slots) { spec_.max_steps = 10; }
  const EnvSpec& spec() const override { return spec_; }
  size_t size() const override { return totals_.size(); }
  absl::StatusOr<EnvTurn> Reset(size_t slot, const EnvTask& task, bool) override {
    totals_[slot] = EpisodeTotals();
    EnvTurn turn;
    turn.task_id = absl::StrCat("scripted/", task.index);
    turn.observation = "grid";
    return turn;
  }
  absl::StatusOr<std::vector<EnvTurn>> Step(const std::vector<size_t>& slots,
                                            const std::vector<std::string>& answers) override {
    std::vector<EnvTurn> out;
    for (size_t slot : slots) {
      EpisodeTotals& t = totals_[slot];
      EnvTurn turn;
      ActionEvent e;
      e.moved = true;
      e.deadlock = slot == 0 && t.steps == 1;
      e.reward = -0.1;
      turn.events.push_back(e);
      turn.reward = e.reward;
      ++t.steps;
      ++t.turns;
      t.episode_return += e.reward;
      t.truncated = t.steps >= spec_.max_steps;
      turn.done = t.truncated;
      turn.observation = "grid";
      turn.totals = t;
      out.push_back(std::move(turn));
    }
    return out;
  }

 private:
  EnvSpec spec_;
  std::vector<EpisodeTotals> totals_;
};

TEST(RolloutTest, EndOnDeadlockChargesTheMovesLeft) {
  auto tok = TinyTokenizer();
  ASSERT_OK_AND_ASSIGN(model::ChatTemplate chat, model::ChatTemplate::Create(tok.get()));
  model::CausalLM lm = model::RandomModel(model::TestModelConfig(tok->vocab_size(), 16, 1, 2, 1), 1);
  const std::vector<EnvTask> tasks = {{Split::kTrain, 0, 0}, {Split::kTrain, 1, 0}};
  PlayOptions options;
  options.max_turns = 10;
  options.sampling.max_new_tokens = 4;
  ScriptedEnvBatch envs(2);
  // Off (evaluation): both episodes play all 10 moves.
  ASSERT_OK_AND_ASSIGN(std::vector<EpisodeResult> full, PlayEpisodes(*lm, *tok, chat, envs, tasks, options));
  EXPECT_EQ(full[0].turns.size(), 10u);
  EXPECT_NEAR(full[0].totals.episode_return, -1.0, 1e-9);
  // On: episode 0 stops at its deadlock (move 2) and is charged -0.1 for each of the 8 moves left, so its return
  // equals that of playing on without reward; episode 1 is untouched.
  options.end_on_deadlock = true;
  options.deadlock_step_reward = -0.1;
  ASSERT_OK_AND_ASSIGN(std::vector<EpisodeResult> cut, PlayEpisodes(*lm, *tok, chat, envs, tasks, options));
  ASSERT_EQ(cut[0].turns.size(), 2u);
  EXPECT_EQ(cut[0].totals.steps, 2);
  EXPECT_TRUE(cut[0].totals.truncated);
  EXPECT_NEAR(cut[0].totals.episode_return, -1.0, 1e-9);
  EXPECT_NEAR(cut[0].turns[0].reward + cut[0].turns[1].reward, -1.0, 1e-9);
  EXPECT_EQ(cut[1].turns.size(), 10u);
  EXPECT_NEAR(cut[1].totals.episode_return, -1.0, 1e-9);
}

TEST(RolloutTest, SummaryMatchesClosedForm) {
  std::vector<EpisodeResult> results(4);
  results[0].totals.solved = true;
  results[0].totals.completion = 1.0;
  results[1].totals.completion = 0.5;
  // Two levels, interleaved as an evaluation plays them (every level once, then again).
  results[0].task_id = results[2].task_id = "sokoban/test/1";
  results[1].task_id = results[3].task_id = "sokoban/test/0";
  EvalSummary s = Summarize(results);
  EXPECT_EQ(s.episodes, 4);
  EXPECT_DOUBLE_EQ(s.solved, 0.25);
  // Sample variance of {1,0,0,0} is 0.25; stderr = sqrt(0.25 / 4).
  EXPECT_DOUBLE_EQ(s.solved_stderr, 0.25);
  EXPECT_DOUBLE_EQ(s.completion, 0.375);
  ASSERT_EQ(s.levels.size(), 2u);  // in order of first appearance
  EXPECT_EQ(s.levels[0].task_id, "sokoban/test/1");
  EXPECT_EQ(s.levels[0].episodes, 2);
  EXPECT_DOUBLE_EQ(s.levels[0].solved, 0.5);
  EXPECT_DOUBLE_EQ(s.levels[0].completion, 0.5);
  EXPECT_EQ(s.levels[1].task_id, "sokoban/test/0");
  EXPECT_DOUBLE_EQ(s.levels[1].solved, 0.0);
  EXPECT_DOUBLE_EQ(s.levels[1].completion, 0.25);
  const std::string json = ToJson(s);
  EXPECT_THAT(json,
              ::testing::HasSubstr("\"levels\": [{\"task\": \"sokoban/test/1\", \"episodes\": 2, \"solved\": 0.5, "
                                   "\"completion\": 0.5}, {\"task\": \"sokoban/test/0\""));
}

}  // namespace
}  // namespace skillsd::actor
