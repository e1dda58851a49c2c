// What the actor, the teacher and the learner do with a model: score given tokens under given contexts (with
// gradients for the learner, without for the teacher), and sample continuations with a KV cache for a batch
// of sequences that join and finish independently.
//
// Behaviour log-probs: a sampled token's log-prob is taken under the distribution actually sampled from —
// softmax(logits / temperature), restricted to the top-k / top-p set and renormalised. With top_k = 0 and
// top_p = 1 (the RL default) this is exactly log_softmax(logits / temperature), which is what
// ScoreBatch(temperature) computes, so the learner's ratio π_θ / π_θold compares like with like.
#ifndef SKILLSD_MODEL_INFERENCE_H_
#define SKILLSD_MODEL_INFERENCE_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/random.h"
#include "model/transformer.h"

namespace skillsd::model {

struct ScoreItem {
  std::vector<int32_t> context;       // at least one token
  std::vector<int32_t> continuation;  // the tokens to score
};

struct ScoredBatch {
  torch::Tensor logprobs;        // [B, L] float32, log π(continuation[j] | context, continuation[<j]); 0 past the end
  torch::Tensor mask;            // [B, L] bool, true on real continuation tokens
  torch::Tensor top_k_ids;       // [B, L, k] int64 when top_k > 0
  torch::Tensor top_k_logprobs;  // [B, L, k] float32 when top_k > 0
  torch::Tensor entropy;         // [B, L] float32 entropy of each predicted distribution, when asked for
};

// Scores every item in one right-padded batch (results do not depend on the padding). Differentiable when
// called with gradients enabled. INVALID_ARGUMENT for an empty context or a token id outside the vocabulary.
absl::StatusOr<ScoredBatch> ScoreBatch(CausalLMImpl& model, const std::vector<ScoreItem>& items,
                                       double temperature = 1.0, int top_k = 0, bool with_entropy = false);

struct SamplingOptions {
  double temperature = 1.0;
  int top_k = 0;       // 0 = off
  double top_p = 1.0;  // 1 = off
  int max_new_tokens = 32;
  std::vector<int32_t> stop_tokens;  // generation ends after emitting one of these
  uint64_t seed = 0;
};

// One sampled token of one sequence.
struct SampledToken {
  int64_t sequence;  // id returned by Add
  int32_t token;
  float logprob;  // behaviour log-prob (see above)
  bool finished;  // a stop token or max_new_tokens: the sequence has left the batch
};

// A batch of sequences decoding together with one KV cache. Sequences join (Add, prefilled together) and
// finish (stop token, token budget, or Remove) independently. Runs under InferenceMode. Not thread-safe.
class DecodeBatch {
 public:
  DecodeBatch(CausalLMImpl* model, SamplingOptions options);

  // Prefills `prompts` and adds them to the batch; returns their ids. INVALID_ARGUMENT for an empty prompt or
  // an out-of-vocabulary id (nothing is added then).
  absl::StatusOr<std::vector<int64_t>> Add(const std::vector<std::vector<int32_t>>& prompts);
  // Samples the next token of every live sequence and advances them. Empty when no sequence is live.
  std::vector<SampledToken> Step();
  // Drops a sequence (no-op when unknown or finished).
  void Remove(int64_t sequence);
  int64_t live() const { return static_cast<int64_t>(rows_.size()); }

 private:
  struct Row {
    int64_t id;
    int64_t next_position;
    int generated;
  };
  // Keeps rows whose `keep` flag is set (cache, logits and bookkeeping together).
  void Keep(const std::vector<bool>& keep);
  int32_t Sample(const float* logits, int64_t vocab, float* logprob);

  CausalLMImpl* model_;
  SamplingOptions options_;
  Rng rng_;
  KVCache cache_;
  torch::Tensor next_logits_;  // [live, V] float32 on CPU
  std::vector<Row> rows_;
  int64_t next_id_ = 0;
};

// Samples continuations of `prompts` (all in one batch). Returns, per prompt, the sampled tokens and their
// behaviour log-probs.
struct Generation {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
};
absl::StatusOr<std::vector<Generation>> Generate(CausalLMImpl& model, const std::vector<std::vector<int32_t>>& prompts,
                                                 const SamplingOptions& options);

}  // namespace skillsd::model

#endif  // SKILLSD_MODEL_INFERENCE_H_
