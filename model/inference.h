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
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "core/random.h"
#include "model/transformer.h"

namespace skillsd::model {

struct ScoreItem {
  std::vector<int32_t> context;       // at least one token
  std::vector<int32_t> continuation;  // the tokens to score
  // Indices into `continuation` that need log-probs (ascending); unset = all. The LM head runs only on these, so
  // a trajectory whose observations are long pays the vocabulary only for its generated tokens.
  std::optional<std::vector<int64_t>> scored;
};

struct ScoredBatch {
  torch::Tensor logprobs;        // [B, L] float32, log π(continuation[j] | context, continuation[<j]); 0 elsewhere
  torch::Tensor mask;            // [B, L] bool, true on the scored continuation tokens
  torch::Tensor top_k_ids;       // [B, L, k] int64 when top_k > 0
  torch::Tensor top_k_logprobs;  // [B, L, k] float32 when top_k > 0
  torch::Tensor entropy;         // [B, L] float32 entropy of each predicted distribution, when asked for
  torch::Tensor probe_logprobs;  // [B, L, P] float32 log-probs of ScoreOptions::probe_ids, when any
  int64_t model_tokens = 0;      // tokens run through the model (a shared prefix counts once)
};

struct ScoreOptions {
  double temperature = 1.0;  // log-probs under softmax(logits / temperature)
  int top_k = 0;             // > 0: also the k most likely tokens at each scored position
  bool with_entropy = false;
  // Without gradients (the teacher, evaluation): items whose contexts share at least this many leading tokens
  // (a group's G samples under one skill and prompt) are scored together over one prefill of that prefix, in a KV
  // cache copied to each; 0 = every item runs its whole sequence.
  int64_t min_shared_prefix = 0;
  // Also the log-probs of these token ids at each scored position (never differentiable); in range, or the
  // call fails with INVALID_ARGUMENT.
  std::vector<int64_t> probe_ids;
};

// Scores every item in one right-padded batch (results do not depend on the padding or on prefix sharing).
// Differentiable when called with gradients enabled. The vocabulary is visited a bounded chunk of positions at a
// time (model/vocab_head.h), forward and backward: memory is the model's activations plus O(chunk × vocabulary).
// INVALID_ARGUMENT for an empty context, a token id outside the vocabulary or a bad `scored` index.
absl::StatusOr<ScoredBatch> ScoreBatch(CausalLMImpl& model, const std::vector<ScoreItem>& items,
                                       const ScoreOptions& options);
inline absl::StatusOr<ScoredBatch> ScoreBatch(CausalLMImpl& model, const std::vector<ScoreItem>& items,
                                              double temperature = 1.0, int top_k = 0, bool with_entropy = false) {
  ScoreOptions options;
  options.temperature = temperature;
  options.top_k = top_k;
  options.with_entropy = with_entropy;
  return ScoreBatch(model, items, options);
}

struct SamplingOptions {
  double temperature = 1.0;
  int top_k = 0;       // 0 = off
  double top_p = 1.0;  // 1 = off
  int max_new_tokens = 32;
  std::vector<int32_t> stop_tokens;  // generation ends after emitting one of these
  uint64_t seed = 0;
  // Also report, for every sampled token, the log-probs of these ids at that step under the model's tempered
  // distribution (before any top-k / top-p restriction): e.g. which move the policy ranked first.
  std::vector<int32_t> probe_tokens;
  // A sequence whose turn ends (stop token or max_new_tokens) stays in the batch, paused with its KV cache, until
  // Extend resumes it or Remove drops it. Off: it leaves the batch.
  bool keep_finished = false;
  // Prompts added together that share at least this many leading tokens (with each other, or with the prefix the
  // batch shared last) prefill them once; 0 = never share.
  int64_t min_shared_prefix = 16;
};

// One sampled token of one sequence.
struct SampledToken {
  int64_t sequence;  // id returned by Add
  int32_t token;
  float logprob;  // behaviour log-prob (see above)
  bool finished;  // a stop token or max_new_tokens: the sequence's turn is over (it left the batch, or is paused)
  std::vector<float> probe_logprobs;  // one per SamplingOptions::probe_tokens
};

// A batch of sequences decoding together over one preallocated KV cache (model/transformer.h's KVCache).
// Sequences join (Add: prefilled together), finish (stop token, token budget, or Remove) and, with keep_finished,
// resume (Extend: only the new tokens are prefilled) independently. Prefill work is shared: identical prompts are
// prefilled once, and a leading run of tokens common to the prompts of an Add (a system prompt; a task's prompt for
// its G samples) is prefilled once, kept, and copied into each row's cache. Sampling (temperature, top-k, top-p)
// runs on the model's device; only the sampled ids and their log-probs come to the host. Runs under
// InferenceMode. Not thread-safe.
class DecodeBatch {
 public:
  DecodeBatch(CausalLMImpl* model, SamplingOptions options);

  // Prefills `prompts` and adds them to the batch; returns their ids. INVALID_ARGUMENT for an empty prompt or
  // an out-of-vocabulary id (nothing is added then).
  absl::StatusOr<std::vector<int64_t>> Add(const std::vector<std::vector<int32_t>>& prompts);
  // Resumes paused sequences: appends tokens[i] to sequence ids[i] (after what it generated) and prefills only
  // the tokens its cache lacks. INVALID_ARGUMENT for an unknown or decoding sequence, an out-of-vocabulary id, or
  // nothing to prefill (nothing changes then).
  absl::Status Extend(const std::vector<int64_t>& ids, const std::vector<std::vector<int32_t>>& tokens);
  // Samples the next token of every decoding sequence and advances them. Empty when none is decoding.
  std::vector<SampledToken> Step();
  // Drops a sequence (no-op when unknown).
  void Remove(int64_t sequence);
  // Restarts the sampling random stream.
  void Reseed(uint64_t seed) { rng_ = Rng(seed); }
  // Sequences decoding (not paused).
  int64_t live() const { return active_; }
  // Every token of a sequence so far (prompt, generated, extensions); null when unknown.
  const std::vector<int32_t>* Tokens(int64_t sequence) const;
  // Tokens run through the model by prefills, against the tokens the prompts and extensions held.
  int64_t prefilled_tokens() const { return prefilled_tokens_; }
  int64_t prompt_tokens() const { return prompt_tokens_; }

 private:
  struct Row {
    int64_t id;
    std::vector<int32_t> tokens;  // the first cache_.lengths[row] are in the cache
    int generated;                // this turn
  };
  int64_t RowOf(int64_t sequence) const;
  // Cache storage for every row, with room for `longest` tokens plus a turn's generation.
  void Reserve(int64_t longest);
  void SwapRows(int64_t a, int64_t b);
  // Drops paused row r (r >= active_): the last row, also paused, takes its place.
  void DropRow(int64_t r);
  // Runs rows [first, first + n) over their tokens that the cache lacks; returns the logits of each one's last.
  torch::Tensor Prefill(int64_t first, int64_t n);
  // The KV cache of prompt[0, length) in prefix_keys_/values_, reusing what is already there.
  void SharePrefix(const std::vector<int32_t>& prompt, int64_t length);
  // Samples one token for each row of `logits` [A, V] on its device.
  // With probe tokens, also their log-probs per row ([A × P], row-major) in *probes.
  void Sample(const torch::Tensor& logits, std::vector<int32_t>* tokens, std::vector<float>* logprobs,
              std::vector<float>* probes);

  CausalLMImpl* model_;
  SamplingOptions options_;
  Rng rng_;
  KVCache cache_;
  std::vector<Row> rows_;  // rows_[r] is cache row r; rows [0, active_) decode, the rest are paused
  int64_t active_ = 0;
  torch::Tensor next_logits_;  // [active_, V] float32 on the model's device
  int64_t next_id_ = 0;
  std::vector<int32_t> prefix_tokens_;  // the shared prefix whose cache is kept
  KVCache prefix_;                      // one row
  int64_t prefilled_tokens_ = 0, prompt_tokens_ = 0;
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
