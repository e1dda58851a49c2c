// A small Qwen3 configuration for tests across libraries: 8-dimensional heads, MLP twice the hidden size, tied
// embeddings. Header-only.
#ifndef SKILLSD_MODEL_TEST_MODEL_H_
#define SKILLSD_MODEL_TEST_MODEL_H_

#include "model/model_config.h"

namespace skillsd::model {

inline ModelConfig TestModelConfig(int64_t vocab, int64_t hidden, int64_t layers, int64_t heads, int64_t kv_heads) {
  ModelConfig c;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.intermediate_size = 2 * hidden;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = 8;
  c.rope_theta = 10000;
  c.tie_word_embeddings = true;
  return c;
}

}  // namespace skillsd::model

#endif  // SKILLSD_MODEL_TEST_MODEL_H_
