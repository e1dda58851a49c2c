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
#include "core/config_enums.h"
#include "model/model_config.h"
#include "model/safetensors.h"

namespace skillsd::model {

// Keys and values of a batch of sequences, preallocated per layer as [row capacity, H_kv, slot capacity, D]: a
// forward writes each new token's key and value in place at its row's next free slot, so decoding appends without
// concatenating. Row r holds its first lengths[r] tokens in slots [0, lengths[r]). Capacity grows geometrically
// when a forward needs more. A forward over a batch of B rows uses cache rows [0, B): the caller keeps the rows it
// advances first (SwapRows) and the others after them. Not thread-safe.
struct KVCache {
  std::vector<torch::Tensor> keys;    // per layer [row capacity, H_kv, slot capacity, D]
  std::vector<torch::Tensor> values;  // per layer, the same
  std::vector<int64_t> lengths;       // per row in use: valid slots

  bool empty() const { return lengths.empty(); }
  int64_t rows() const { return static_cast<int64_t>(lengths.size()); }
  int64_t row_capacity() const { return keys.empty() ? 0 : keys[0].size(0); }
  int64_t slot_capacity() const { return keys.empty() ? 0 : keys[0].size(2); }
  // Makes room for `rows` rows of `slots` slots each (existing contents kept); new rows start empty.
  void Reserve(int64_t layers, int64_t kv_heads, int64_t head_dim, const torch::TensorOptions& options, int64_t rows,
               int64_t slots);
  // Adds `n` empty rows at the end (their storage comes with the next Reserve, which every forward makes).
  void AddRows(int64_t n) { lengths.resize(lengths.size() + static_cast<size_t>(n), 0); }
  // Row `to` becomes a copy of the first `slots` slots of row `from`.
  void CopyRow(int64_t from, int64_t to, int64_t slots);
  // Row `to` becomes the first `slots` slots of `prefix` (per layer [1, H_kv, >= slots, D]).
  void CopyPrefix(const std::vector<torch::Tensor>& prefix_keys, const std::vector<torch::Tensor>& prefix_values,
                  int64_t to, int64_t slots);
  void SwapRows(int64_t a, int64_t b);
  // Drops row r: the last row moves into its place.
  void RemoveRow(int64_t r);
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
  // x [B, T, hidden]; cos/sin [B, T, D]; mask [B, T, S] bool over the keys attended to. Without a cache S = T.
  // With one (`slots`: where each new token's key and value go, as flat indices into the cache viewed as
  // [rows × H_kv × slots, D], in [B, H_kv, T] order), the new keys and values are written there and the queries
  // attend to the first S slots of cache rows [first_row, first_row + B).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, torch::Tensor* cache_k, torch::Tensor* cache_v,
                        const torch::Tensor& slots = {}, int64_t first_row = 0);
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
                        const torch::Tensor& mask, torch::Tensor* cache_k, torch::Tensor* cache_v,
                        const torch::Tensor& slots = {}, int64_t first_row = 0);
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
  // With a cache, batch row b is cache row b (rows the cache lacks are added empty): its valid new tokens, which
  // must come first (right padding), attend to the row's cached slots and to each other causally, and are written
  // after them (lengths grow by the valid count). Returns the final hidden states [B, T, hidden].
  // `first_row` offsets the batch in the cache: batch row b is cache row first_row + b.
  torch::Tensor Hidden(const torch::Tensor& tokens, const torch::Tensor& positions, const torch::Tensor& token_valid,
                       KVCache* cache = nullptr, int64_t first_row = 0);
  // Logits [..., vocab] (float32) of hidden states. Materialises the whole vocabulary for every row: for many
  // positions use VocabHead (model/vocab_head.h) with LmHeadWeight(), which works a bounded chunk at a time.
  torch::Tensor Logits(const torch::Tensor& hidden);
  // [vocab, hidden]: lm_head.weight, or the embedding when tied.
  torch::Tensor LmHeadWeight() const;
  torch::Tensor Forward(const torch::Tensor& tokens, const torch::Tensor& positions, const torch::Tensor& token_valid,
                        KVCache* cache = nullptr, int64_t first_row = 0) {
    return Logits(Hidden(tokens, positions, token_valid, cache, first_row));
  }

  const ModelConfig& config() const { return config_; }
  // Activation checkpointing per decoder layer: with gradients on, a forward without a cache keeps only each
  // layer's input, and the backward pass runs the layer again (under the forward's autocast state) to get the rest.
  // Gradients are unchanged; activation memory drops from every layer's intermediates to one layer's.
  void set_activation_checkpointing(bool on) { activation_checkpointing_ = on; }
  bool activation_checkpointing() const { return activation_checkpointing_; }
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
  bool activation_checkpointing_ = false;
};
TORCH_MODULE(CausalLM);

// The LibTorch type of a configured weight dtype (model.dtype).
inline torch::ScalarType ToTorch(ModelDtype dtype) {
  return dtype == ModelDtype::kBFloat16 ? torch::kBFloat16 : torch::kFloat32;
}

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
