// The learner's optimisation: AdamW with linear warm-up, global gradient-norm clipping, PPO epochs and
// minibatches, and micro-batches bounded by a token budget (so memory stays bounded for long multi-turn
// trajectories while the loss is still the token mean over the whole minibatch). Two objectives share it:
// Skill-SD (learner/losses.h, every mode of SPEC §5) and SFT (cross-entropy on demonstration tokens), which
// makes the tiny model's warm start. No gRPC. Not thread-safe.
#ifndef SKILLSD_LEARNER_TRAINER_H_
#define SKILLSD_LEARNER_TRAINER_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "learner/distributed.h"
#include "learner/losses.h"
#include "model/transformer.h"

namespace skillsd::learner {

// One model input with its per-token training data. Arrays are aligned with `tokens`; entry 0 is ignored
// (the first token is never predicted).
struct TrainingSequence {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> loss_mask;       // 1 on generated tokens that carry loss
  std::vector<float> old_logprobs;      // behaviour log-probs (Skill-SD)
  std::vector<float> teacher_logprobs;  // teacher log-probs (Skill-SD with sdl_coef != 0)
  double advantage = 0;                 // Â of the sequence's trajectory (Skill-SD)
  double weight = 1;                    // weight of each of its loss tokens in the (weighted) token mean
};

enum class Objective { kSkillSd, kSft };

struct TrainerOptions {
  Objective objective = Objective::kSkillSd;
  LossOptions loss;
  double learning_rate = 1e-4;
  int warmup_steps = 5;  // optimizer steps of linear warm-up
  double weight_decay = 0.0;
  double grad_clip = 1.0;  // 0 = off
  int ppo_epochs = 1;
  int minibatches = 1;                 // optimizer steps per epoch
  int64_t micro_batch_tokens = 16384;  // padded tokens per forward/backward
  double temperature = 1.0;            // the rollout temperature: log-probs are taken under logits / T
  uint64_t seed = 1;                   // minibatch shuffling
  // bfloat16 autocast of the forward pass: float32 parameters, gradients and optimizer state, matrix products in
  // bfloat16 (no effect on a bfloat16 model). Meant for CUDA; works on the CPU too.
  bool bf16_autocast = false;
  // Activation checkpointing per decoder layer (CausalLMImpl::set_activation_checkpointing): the same gradients
  // for about one layer's activations instead of all of them, at the cost of a second forward pass.
  bool activation_checkpointing = false;
  // Data parallelism: every rank passes the same global batch to Step and trains on its share; gradients are
  // summed over ranks, so the update equals a single rank's on the whole batch. Not owned; null = one rank.
  DataParallel* data_parallel = nullptr;
};

// What one Step did, for metrics.
struct StepStats {
  int optimizer_steps = 0;
  double loss = 0;       // mean over optimizer steps
  LossOutput terms;      // the loss terms' statistics over every micro-batch of the step, token-weighted
  double grad_norm = 0;  // before clipping, last optimizer step
  double learning_rate = 0;
  double tokens = 0;  // loss tokens processed (all epochs)
  // Tokens of the sequences run through forward/backward, and the padded [B × T] slots they filled (all epochs):
  // padding waste is 1 - sequence_tokens / padded_tokens.
  double sequence_tokens = 0, padded_tokens = 0;
  double seconds_forward_backward = 0;
  double seconds_optimizer = 0;
};

class Trainer {
 public:
  Trainer(model::CausalLM model, TrainerOptions options);

  // One learner step on `batch`: ppo_epochs × minibatches optimizer steps. INVALID_ARGUMENT for malformed
  // sequences (mismatched lengths, ids outside the vocabulary, empty) — nothing is changed then.
  absl::StatusOr<StepStats> Step(const std::vector<TrainingSequence>& batch);

  // Data parallelism: gives every rank rank 0's weights, optimizer state and counters (after rank 0 restored a
  // checkpoint). Collective; OK at once without data parallelism.
  absl::Status SyncFromRankZero();

  model::CausalLM& model() { return model_; }
  torch::optim::AdamW& optimizer() { return *optimizer_; }
  int64_t optimizer_steps() const { return optimizer_steps_; }

  // Everything besides weights and optimizer moments that a checkpoint must restore for an exact resume.
  struct ResumeState {
    int64_t optimizer_steps = 0;
    uint64_t shuffle_state = 0;
  };
  ResumeState resume_state() const { return {optimizer_steps_, shuffle_state_}; }
  void set_resume_state(const ResumeState& state) {
    optimizer_steps_ = state.optimizer_steps;
    shuffle_state_ = state.shuffle_state;
  }

 private:
  absl::Status Validate(const std::vector<TrainingSequence>& batch) const;
  // Sum over `items` of the per-token loss (not yet divided by the minibatch's token count), with backward.
  double ForwardBackward(const std::vector<const TrainingSequence*>& items, double total_tokens, LossOutput* stats);

  model::CausalLM model_;
  // The initial weights, frozen: the reference of the optional KL-to-reference term (loss.kl_ref_coef > 0).
  model::CausalLM reference_{nullptr};
  TrainerOptions options_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  int64_t optimizer_steps_ = 0;
  uint64_t shuffle_state_;
};

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_TRAINER_H_
