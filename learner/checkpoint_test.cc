#include "learner/checkpoint.h"

#include <cstdlib>

#include "core/file_util.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/test_model.h"

namespace skillsd::learner {
namespace {

using ::skillsd::testing::StatusIs;

model::ModelConfig Config() {
  return model::TestModelConfig(/*vocab=*/24, /*hidden=*/16, /*layers=*/2, /*heads=*/2, /*kv_heads=*/1);
}

std::vector<TrainingSequence> BatchFor(int step) {
  std::vector<TrainingSequence> batch;
  for (int i = 0; i < 4; ++i) {
    TrainingSequence s;
    for (int k = 0; k < 6 + i; ++k) {
      s.tokens.push_back((step * 5 + i * 3 + k) % 24);
      s.loss_mask.push_back(k >= 2);
      s.old_logprobs.push_back(-3.1f);
      s.teacher_logprobs.push_back(-2.9f);
    }
    s.advantage = (i % 2 ? -1.0 : 1.0) * (1 + step % 3);
    batch.push_back(s);
  }
  return batch;
}

TrainerOptions Options() {
  TrainerOptions o;
  o.ppo_epochs = 2;
  o.minibatches = 2;  // shuffling makes the RNG state matter
  o.learning_rate = 1e-3;
  o.loss.sdl_coef = 0.1;
  return o;
}

std::string TempDir() {
  char pattern[] = "/tmp/skillsd_ckpt_XXXXXX";
  return mkdtemp(pattern);
}

TEST(CheckpointTest, ResumeIsBitwiseExact) {
  const int n = 6;
  Trainer straight(model::RandomModel(Config(), 3), Options());
  for (int step = 0; step < n; ++step) ASSERT_OK(straight.Step(BatchFor(step)).status());

  const std::string dir = TempDir();
  {
    Trainer first_half(model::RandomModel(Config(), 3), Options());
    for (int step = 0; step < n / 2; ++step) ASSERT_OK(first_half.Step(BatchFor(step)).status());
    LearnerState state{n / 2, 17, {"w1/0", "w1/1", "w2/0"}};
    ASSERT_OK(SaveCheckpoint(dir, first_half, state).status());
  }
  // A fresh process would build a fresh trainer (different initial weights even) and restore.
  Trainer resumed(model::RandomModel(Config(), 99), Options());
  ASSERT_OK_AND_ASSIGN(LearnerState state, LoadLatestCheckpoint(dir, &resumed));
  EXPECT_EQ(state.step, n / 2);
  EXPECT_EQ(state.curriculum_cursor, 17);
  EXPECT_THAT(state.consumed_group_ids, ::testing::ElementsAre("w1/0", "w1/1", "w2/0"));
  for (int step = n / 2; step < n; ++step) ASSERT_OK(resumed.Step(BatchFor(step)).status());

  const model::TensorMap a = straight.model()->StateDict(), b = resumed.model()->StateDict();
  for (const auto& [name, t] : a) EXPECT_TRUE(torch::equal(t, b.at(name))) << name;
  EXPECT_EQ(straight.optimizer_steps(), resumed.optimizer_steps());
}

TEST(CheckpointTest, LatestPointsAtTheNewestCompleteCheckpoint) {
  const std::string dir = TempDir();
  Trainer trainer(model::RandomModel(Config(), 4), Options());
  EXPECT_THAT(LoadLatestCheckpoint(dir, &trainer), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(SaveCheckpoint(dir, trainer, {1, 0, {}}).status());
  ASSERT_OK(trainer.Step(BatchFor(0)).status());
  ASSERT_OK_AND_ASSIGN(std::string second, SaveCheckpoint(dir, trainer, {2, 4, {"g"}}));
  ASSERT_OK_AND_ASSIGN(LearnerState state, LoadLatestCheckpoint(dir, &trainer));
  EXPECT_EQ(state.step, 2);
  // A damaged state file is DATA_LOSS, not a silent default.
  ASSERT_OK(WriteFileAtomically(second + "/state.json", "{\"step\": \"two\"}"));
  EXPECT_THAT(LoadLatestCheckpoint(dir, &trainer), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace skillsd::learner
