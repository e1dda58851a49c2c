// The decoder of the Qwen3 / Qwen2 families in LibTorch: token embedding, N × (RMSNorm → grouped-query
// attention with RoPE [and per-head q/k RMSNorm in Qwen3] → residual → RMSNorm → SwiGLU MLP → residual), final
// RMSNorm, LM head (or tied embeddings). Parameter names are Hugging Face's, so checkpoints load as they are.
//
// One forward serves full sequences, batches of different lengths (explicit positions and a validity mask) and
// KV-cache decoding (cached slots precede every new token). It runs on CPU or CUDA in float32 or bfloat16;
// norms, RoPE and softmax are computed in float32. Builds against LibTorch 1.13 and 2.x.
#ifndef SKILLSD_MODEL_TRANSFORMER_H_
#define SKILLSD_MODEL_TRANSFORMER_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model_config.h"
#include "model/safetensors.h"

namespace skillsd::model {

// Keys and values of a batch of sequences. Slot order is insertion order; `valid[b, s]` says whether row b
// attends to slot s. Rows may hold different numbers of valid slots (sequences of different lengths, joined at
// different times). Not thread-safe.
struct KVCache {
  std::vector<torch::Tensor> keys;    // per layer [B, H_kv, S, D]
  std::vector<torch::Tensor> values;  // per layer [B, H_kv, S, D]
  torch::Tensor valid;                // [B, S] bool; undefined when empty

  bool empty() const { return !valid.defined(); }
  int64_t rows() const { return empty() ? 0 : valid.size(0); }
  int64_t slots() const { return empty() ? 0 : valid.size(1); }
  // Keeps only `rows` (int64 indices), in that order.
  void SelectRows(const torch::Tensor& rows);
  // Appends the rows of `other` below these; the one with fewer slots is padded with invalid slots.
  void AppendRows(const KVCache& other);
  // Drops leading slots that no row attends to.
  void Compact();
};

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const ModelConfig& config);
  // x [B, T, hidden]; cos/sin [B, T, D]; mask [B, T, S+T] bool. Updates `cache_k/v` (may be undefined = none).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, torch::Tensor* cache_k, torch::Tensor* cache_v);
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};

 private:
  int64_t heads_, kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

class MLPImpl : public torch::nn::Module {
 public:
  explicit MLPImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(MLP);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, torch::Tensor* cache_k, torch::Tensor* cache_v);
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  MLP mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

// The "model." part of the checkpoint.
class BackboneImpl : public torch::nn::Module {
 public:
  explicit BackboneImpl(const ModelConfig& config);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(Backbone);

class CausalLMImpl : public torch::nn::Module {
 public:
  explicit CausalLMImpl(const ModelConfig& config);

  // tokens, positions: [B, T] int64; token_valid: [B, T] bool (false = padding, never attended to).
  // With a cache, the new tokens attend to its valid slots, and their keys/values are appended to it.
  // Returns the final hidden states [B, T, hidden].
  torch::Tensor Hidden(const torch::Tensor& tokens, const torch::Tensor& positions, const torch::Tensor& token_valid,
                       KVCache* cache = nullptr);
  // Logits [B, T, vocab] (float32) of hidden states.
  torch::Tensor Logits(const torch::Tensor& hidden);
  torch::Tensor Forward(const torch::Tensor& tokens, const torch::Tensor& positions, const torch::Tensor& token_valid,
                        KVCache* cache = nullptr) {
    return Logits(Hidden(tokens, positions, token_valid, cache));
  }

  const ModelConfig& config() const { return config_; }
  torch::Device device() const;
  torch::ScalarType dtype() const;

  // Every parameter under its Hugging Face name (lm_head.weight omitted when tied).
  TensorMap StateDict() const;
  // Copies `weights` into the parameters (converting dtype and device). Missing, unexpected or mis-shaped
  // tensors are INVALID_ARGUMENT naming them; nothing is changed then. With tied embeddings a stored
  // lm_head.weight is ignored.
  absl::Status LoadStateDict(const TensorMap& weights);

  Backbone model{nullptr};
  torch::nn::Linear lm_head{nullptr};

 private:
  ModelConfig config_;
  torch::Tensor inv_freq_;  // [D/2] float32 RoPE frequencies
};
TORCH_MODULE(CausalLM);

// Reads config.json and the safetensors weights of a Hugging Face folder onto `device` in `dtype`.
absl::StatusOr<CausalLM> LoadModel(const std::string& dir, torch::Device device = torch::kCPU,
                                   torch::ScalarType dtype = torch::kFloat32);

// Writes config.json and model.safetensors (atomically each) for `model` into `dir` (created if needed).
absl::Status SaveModel(CausalLM& model, const std::string& dir);

// Sets LibTorch's intra-op thread count (which Debian's build defaults to 1); 0 = every core. Also keeps freed
// tensor memory in the heap (glibc otherwise mmaps and unmaps every block over 128 KiB: with activations of a few
// MiB per layer, training spent as much time in page faults as in arithmetic — half the SFT epoch time here).
// Every process that runs the model calls it once at start.
void SetIntraOpThreads(int threads);

// A model with random weights (normal(0, 0.02), norms at 1), seeded.
CausalLM RandomModel(const ModelConfig& config, uint64_t seed);

}  // namespace skillsd::model

#endif  // SKILLSD_MODEL_TRANSFORMER_H_
