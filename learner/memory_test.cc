// Memory of one training step at a real vocabulary (Qwen3's 151,936 tokens): the peak resident memory that the
// step adds stays within weights + gradients + optimizer moments + a few vocabulary chunks, far below one
// [tokens × vocabulary] float32 tensor. Its own binary, so that no earlier test's freed heap hides the peak.
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "core/status_matchers.h"
#include "gtest/gtest.h"
#include "learner/trainer.h"
#include "model/test_model.h"
#include "model/vocab_head.h"

namespace skillsd::learner {
namespace {

// A line of /proc/self/status ("VmHWM", "VmRSS") in bytes.
int64_t StatusBytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream fields(line.substr(key.size() + 1));
      int64_t kib = 0;
      fields >> kib;
      return kib * 1024;
    }
  }
  return -1;
}

// Resets VmHWM to the current resident size (Linux ≥ 4.0).
bool ResetPeak() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

constexpr int64_t kVocab = 151936;

TEST(TrainingMemoryTest, PeakIsBoundedByChunksNotByTheVocabulary) {
  model::SetIntraOpThreads(0);
  TrainerOptions options;
  options.loss.sdl_coef = 0.01;
  options.loss.entropy_coef = 0.001;  // the entropy's backward too
  options.learning_rate = 1e-3;
  Trainer trainer(model::RandomModel(model::TestModelConfig(kVocab, /*hidden=*/64, /*layers=*/1, /*heads=*/4,
                                                            /*kv_heads=*/2),
                                     1),
                  options);
  // 4 sequences of 512 tokens, every token after the first carrying loss: 2,044 scored positions.
  std::vector<TrainingSequence> batch;
  for (int i = 0; i < 4; ++i) {
    TrainingSequence s;
    for (int k = 0; k < 512; ++k) {
      s.tokens.push_back(static_cast<int32_t>((i * 7919 + k * 104729) % kVocab));
      s.loss_mask.push_back(k > 0);
      s.old_logprobs.push_back(-11.9f);
      s.teacher_logprobs.push_back(-11.5f);
    }
    s.advantage = i % 2 == 0 ? 1.0 : -1.0;
    batch.push_back(std::move(s));
  }
  int64_t param_bytes = 0;
  for (const auto& p : trainer.model()->parameters()) param_bytes += p.numel() * p.element_size();
  const int64_t scored = 4 * 511;
  const int64_t full_logits = scored * kVocab * 4;  // one [tokens × vocabulary] float32 tensor
  const int64_t chunk = model::DefaultChunkRows(kVocab) * kVocab * 4;
  ASSERT_TRUE(ResetPeak()) << "cannot reset the peak resident size through /proc/self/clear_refs";
  const int64_t before = StatusBytes("VmRSS");
  ASSERT_OK_AND_ASSIGN(StepStats stats, trainer.Step(batch));
  const int64_t added = StatusBytes("VmHWM") - before;
  EXPECT_EQ(stats.optimizer_steps, 1);
  EXPECT_TRUE(std::isfinite(stats.loss));
  EXPECT_GT(stats.grad_norm, 0);
  // The bound of docs/learner.md: gradients (1×) and AdamW's two moments (2×) of the weights that already exist,
  // the float32 gradient of the LM head accumulated over chunks (1×), ~6 live chunk-sized temporaries in the
  // backward pass, and 64 MiB for activations and allocator slack.
  const int64_t bound = 4 * param_bytes + 6 * chunk + (64 << 20);
  std::cout << "step added " << added / (1 << 20) << " MiB resident; bound " << bound / (1 << 20)
            << " MiB; one [tokens x vocabulary] float32 tensor is " << full_logits / (1 << 20) << " MiB\n";
  EXPECT_LT(added, bound);
  EXPECT_LT(bound, full_logits);  // the bound itself is below a single unchunked logits tensor
}

}  // namespace
}  // namespace skillsd::learner
