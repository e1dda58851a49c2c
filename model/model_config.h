// The architecture of a Hugging Face decoder checkpoint, read from its config.json. Supports the Qwen3 and Qwen2
// families (Qwen3ForCausalLM, Qwen2ForCausalLM). Unsupported architectures or settings are errors, never silent
// defaults. No LibTorch here: tools and services read configs without linking it.
#ifndef SKILLSD_MODEL_MODEL_CONFIG_H_
#define SKILLSD_MODEL_MODEL_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace skillsd::model {

enum class Family { kQwen2, kQwen3 };

struct ModelConfig {
  Family family = Family::kQwen3;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // Qwen2: hidden_size / num_attention_heads
  double rope_theta = 1000000.0;
  double rms_norm_eps = 1e-6;
  int64_t max_position_embeddings = 32768;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // Qwen2: q/k/v projections have biases; Qwen3: false unless set
  bool qk_norm = true;          // Qwen3: RMSNorm on q and k per head
  std::string torch_dtype = "float32";
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;

  // Parameter count (embeddings included once when tied).
  int64_t NumParameters() const;
};

// Parses config.json text. INVALID_ARGUMENT naming the field for a missing or mistyped required field, an
// unsupported architecture, hidden_act other than silu, rope_scaling, sliding-window attention or inconsistent
// sizes (heads not divisible by KV heads, ...).
absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view json_text);

// config.json text for `config` (what `skillsd model init` writes); ParseModelConfig(ToJson(c)) == c.
std::string ToJson(const ModelConfig& config);

}  // namespace skillsd::model

#endif  // SKILLSD_MODEL_MODEL_CONFIG_H_
