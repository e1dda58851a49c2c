#include "learner/distributed.h"

#include <cstdio>
#include <thread>

#include "core/status_matchers.h"
#include "gtest/gtest.h"
#include "learner/trainer.h"
#include "model/test_model.h"

namespace skillsd::learner {
namespace {

model::ModelConfig Config() {
  return model::TestModelConfig(/*vocab=*/24, /*hidden=*/16, /*layers=*/2, /*heads=*/2, /*kv_heads=*/1);
}

std::vector<TrainingSequence> GlobalBatch(int step) {
  std::vector<TrainingSequence> batch;
  for (int i = 0; i < 7; ++i) {  // odd: the ranks get different numbers of sequences and tokens
    TrainingSequence s;
    for (int k = 0; k < 4 + (i * 3) % 5; ++k) {
      s.tokens.push_back((step * 7 + i * 5 + k) % 24);
      s.loss_mask.push_back(k >= 2);
      s.old_logprobs.push_back(-3.0f);
      s.teacher_logprobs.push_back(-2.0f);
    }
    s.advantage = (i % 3) - 1.0;
    batch.push_back(s);
  }
  return batch;
}

TrainerOptions Options(DataParallel* dp) {
  TrainerOptions o;
  o.learning_rate = 1e-2;
  o.warmup_steps = 1;
  o.minibatches = 2;
  o.loss.sdl_coef = 0.2;
  o.data_parallel = dp;
  return o;
}

// Two ranks (threads with their own process groups) on a global batch make the same update as one rank: after a
// step their accumulated gradients equal the single rank's (up to float summation order), and the ranks' weights
// stay identical.
TEST(DataParallelTest, TwoRanksEqualOneRank) {
  TrainerOptions single_options = Options(nullptr);
  single_options.minibatches = 1;
  single_options.grad_clip = 0;
  Trainer single(model::RandomModel(Config(), 1), single_options);
  ASSERT_OK(single.Step(GlobalBatch(0)).status());

  const std::string store = "/tmp/skillsd_dp_store_" + std::to_string(::getpid());
  std::remove(store.c_str());
  model::TensorMap weights[2], grads[2];
  // Built here, one after the other: RandomModel seeds LibTorch's global generator, which threads would share.
  std::vector<model::CausalLM> initial = {model::RandomModel(Config(), 1), model::RandomModel(Config(), 99)};
  auto rank_main = [&](int rank) {
    auto dp = DataParallel::WithFileStore(store, rank, 2);
    ASSERT_OK(dp.status());
    EXPECT_EQ((*dp)->world_size(), 2);
    TrainerOptions options = single_options;
    options.data_parallel = dp->get();
    // Rank 1 starts from other weights: the trainer broadcasts rank 0's.
    Trainer trainer(initial[rank], options);
    ASSERT_OK(trainer.Step(GlobalBatch(0)).status());
    for (const auto& [name, t] : trainer.model()->StateDict()) {
      weights[rank][name] = t.detach().clone();
      grads[rank][name] = t.grad().clone();
    }
  };
  std::thread r0(rank_main, 0), r1(rank_main, 1);
  r0.join();
  r1.join();
  ASSERT_FALSE(weights[0].empty());
  double scale = 0, worst = 0;
  for (const auto& [name, t] : single.model()->StateDict()) {
    EXPECT_TRUE(torch::equal(weights[0].at(name), weights[1].at(name))) << name;  // ranks agree exactly
    scale = std::max(scale, t.grad().abs().max().item<double>());
    worst = std::max(worst, (grads[0].at(name) - t.grad()).abs().max().item<double>());
  }
  EXPECT_GT(scale, 1e-4);
  EXPECT_LT(worst, 1e-5 * scale);
  std::remove(store.c_str());
}

// Rank 0's bytes reach every rank whatever they held, including empty and binary payloads; a one-rank group is a
// real process group (the single-GPU NCCL check relies on that) whose collectives are identities.
TEST(DataParallelTest, BroadcastBytesAndOneRankGroups) {
  const std::string store = "/tmp/skillsd_dp_bytes_" + std::to_string(::getpid());
  std::remove(store.c_str());
  std::string payload(100000, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 131) % 256);
  std::vector<std::string> got(2);
  auto rank_main = [&](int rank) {
    auto dp = DataParallel::WithFileStore(store, rank, 2);
    ASSERT_OK(dp.status());
    EXPECT_STREQ((*dp)->backend(), "gloo");
    std::string bytes = rank == 0 ? payload : "stale bytes of rank 1";
    (*dp)->BroadcastBytes(&bytes);
    got[rank] = bytes;
    std::string empty = rank == 0 ? "" : "not empty";
    (*dp)->BroadcastBytes(&empty);
    EXPECT_EQ(empty, "");
    EXPECT_DOUBLE_EQ((*dp)->AllReduceSum(rank + 1.5), 4.0);
  };
  std::thread r0(rank_main, 0), r1(rank_main, 1);
  r0.join();
  r1.join();
  EXPECT_EQ(got[0], payload);
  EXPECT_EQ(got[1], payload);
  std::remove(store.c_str());

  auto one = DataParallel::WithFileStore(store + "_one", 0, 1);
  ASSERT_OK(one.status());
  EXPECT_STREQ((*one)->backend(), "gloo");
  EXPECT_DOUBLE_EQ((*one)->AllReduceSum(2.5), 2.5);
  std::string bytes = "abc";
  (*one)->BroadcastBytes(&bytes);
  EXPECT_EQ(bytes, "abc");
  std::remove((store + "_one").c_str());
}

TEST(DataParallelTest, RejectsBadRanksAndMissingBackends) {
  EXPECT_FALSE(DataParallel::WithFileStore("/tmp/unused", 2, 2).ok());
  EXPECT_FALSE(DataParallel::WithFileStore("/tmp/unused", -1, 2).ok());
  if (!DataParallel::HasNccl()) {
    EXPECT_THAT(DataParallel::WithFileStore("/tmp/unused", 0, 1, torch::Device(torch::kCUDA, 0)),
                skillsd::testing::StatusIs(absl::StatusCode::kUnimplemented));
  }
}

}  // namespace
}  // namespace skillsd::learner
