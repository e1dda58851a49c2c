// The LM head over the vocabulary, a bounded chunk of positions at a time: log-probs of chosen tokens, and the
// entropy and top-k of each predicted distribution when asked for. No tensor of [positions × vocabulary] exists
// beyond one chunk, in the forward pass and in the backward pass (which recomputes each chunk's logits instead of
// keeping them), so scoring and training memory is bounded by O(chunk × vocabulary) whatever the number of
// positions. With a 151,936-token vocabulary, 4,096 positions of float32 logits are 2.5 GB; a chunk is ~32 MiB.
//
// Numerics: logits = hidden · Wᵀ in the compute dtype (the weight's, or bfloat16 under autocast), then float32
// for the tempered log-softmax, exactly as CausalLM::Logits followed by log_softmax.
#ifndef SKILLSD_MODEL_VOCAB_HEAD_H_
#define SKILLSD_MODEL_VOCAB_HEAD_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace skillsd::model {

struct VocabHeadOptions {
  double temperature = 1.0;  // log-probs are taken under softmax(logits / temperature)
  int top_k = 0;             // > 0: also the k most likely tokens and their log-probs (never differentiable)
  bool with_entropy = false;
  // Also the log-probs of these tokens at every position (never differentiable): a few candidates read off the same
  // distribution, e.g. which of an environment's moves the model ranks first.
  std::vector<int64_t> probe_ids;
  int64_t chunk_rows = 0;  // positions per chunk; 0 = DefaultChunkRows(vocabulary)
};

struct VocabHeadOutput {
  torch::Tensor logprobs;        // [N] float32 log π(target)
  torch::Tensor entropy;         // [N] float32, when with_entropy
  torch::Tensor top_k_ids;       // [N, k] int64, when top_k > 0
  torch::Tensor top_k_logprobs;  // [N, k] float32, when top_k > 0
  torch::Tensor probe_logprobs;  // [N, P] float32, when probe_ids is not empty
};

// Positions per chunk such that one chunk's float32 logits take at most `bytes` (at least 1 position).
int64_t DefaultChunkRows(int64_t vocab, int64_t bytes = 32 << 20);

// hidden [N, H], weight [V, H] (the LM head's, or the tied embedding), targets [N] int64 in [0, V).
// Differentiable with respect to hidden and weight when gradients are enabled (log-probs and entropy).
VocabHeadOutput VocabHead(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& targets,
                          const VocabHeadOptions& options);

}  // namespace skillsd::model

#endif  // SKILLSD_MODEL_VOCAB_HEAD_H_
