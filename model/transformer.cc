#include "model/transformer.h"

#include <malloc.h>

#include <cmath>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/status.h"

namespace skillsd::model {
namespace {

torch::Tensor RotateHalf(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// Pads `t` along `dim` to `size` with zeros (false for bool).
torch::Tensor PadTo(const torch::Tensor& t, int64_t dim, int64_t size) {
  if (t.size(dim) >= size) return t;
  std::vector<int64_t> shape = t.sizes().vec();
  shape[dim] = size - t.size(dim);
  return torch::cat({t, torch::zeros(shape, t.options())}, dim);
}

}  // namespace

void KVCache::SelectRows(const torch::Tensor& rows) {
  if (empty()) return;
  for (auto& k : keys) k = k.index_select(0, rows);
  for (auto& v : values) v = v.index_select(0, rows);
  valid = valid.index_select(0, rows);
}

void KVCache::AppendRows(const KVCache& other) {
  if (other.empty()) return;
  if (empty()) {
    *this = other;
    return;
  }
  const int64_t slots = std::max(this->slots(), other.slots());
  for (size_t l = 0; l < keys.size(); ++l) {
    keys[l] = torch::cat({PadTo(keys[l], 2, slots), PadTo(other.keys[l], 2, slots)}, 0);
    values[l] = torch::cat({PadTo(values[l], 2, slots), PadTo(other.values[l], 2, slots)}, 0);
  }
  valid = torch::cat({PadTo(valid, 1, slots), PadTo(other.valid, 1, slots)}, 0);
}

void KVCache::Compact() {
  if (empty()) return;
  const torch::Tensor used = valid.any(0).nonzero().squeeze(1);
  if (used.size(0) == slots()) return;
  for (auto& k : keys) k = k.index_select(2, used);
  for (auto& v : values) v = v.index_select(2, used);
  valid = valid.index_select(1, used);
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  const torch::Tensor h = x.to(torch::kFloat32);
  const torch::Tensor normed = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return weight * normed.to(x.scalar_type());
}

AttentionImpl::AttentionImpl(const ModelConfig& c)
    : heads_(c.num_attention_heads), kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim) {
  auto linear = [&](int64_t in, int64_t out, bool bias) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
  };
  q_proj = register_module("q_proj", linear(c.hidden_size, heads_ * head_dim_, c.attention_bias));
  k_proj = register_module("k_proj", linear(c.hidden_size, kv_heads_ * head_dim_, c.attention_bias));
  v_proj = register_module("v_proj", linear(c.hidden_size, kv_heads_ * head_dim_, c.attention_bias));
  o_proj = register_module("o_proj", linear(heads_ * head_dim_, c.hidden_size, false));
  if (c.qk_norm) {
    q_norm = register_module("q_norm", RMSNorm(head_dim_, c.rms_norm_eps));
    k_norm = register_module("k_norm", RMSNorm(head_dim_, c.rms_norm_eps));
  }
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                     const torch::Tensor& mask, torch::Tensor* cache_k, torch::Tensor* cache_v) {
  const int64_t b = x.size(0), t = x.size(1), groups = heads_ / kv_heads_;
  torch::Tensor q = q_proj(x).view({b, t, heads_, head_dim_});
  torch::Tensor k = k_proj(x).view({b, t, kv_heads_, head_dim_});
  torch::Tensor v = v_proj(x).view({b, t, kv_heads_, head_dim_}).transpose(1, 2);
  if (!q_norm.is_empty()) {
    q = q_norm(q);
    k = k_norm(k);
  }
  q = q.transpose(1, 2);
  k = k.transpose(1, 2);
  const torch::Tensor c = cos.unsqueeze(1).to(x.scalar_type());
  const torch::Tensor s = sin.unsqueeze(1).to(x.scalar_type());
  q = q * c + RotateHalf(q) * s;
  k = k * c + RotateHalf(k) * s;
  torch::Tensor keys = k, values = v;
  if (cache_k != nullptr && cache_k->defined()) {
    keys = torch::cat({*cache_k, k}, 2);
    values = torch::cat({*cache_v, v}, 2);
  }
  if (cache_k != nullptr) {
    *cache_k = keys;
    *cache_v = values;
  }
  const int64_t slots = keys.size(2);
  // Query heads kv*G .. kv*G+G-1 share key/value head kv: fold the group into the query rows instead of
  // repeating keys and values.
  const torch::Tensor qg = q.reshape({b, kv_heads_, groups * t, head_dim_});
  torch::Tensor scores = torch::matmul(qg, keys.transpose(2, 3)) * (1.0 / std::sqrt(static_cast<double>(head_dim_)));
  scores = scores.view({b, kv_heads_, groups, t, slots})
               .to(torch::kFloat32)
               .masked_fill(mask.view({b, 1, 1, t, slots}).logical_not(), -1e30);
  const torch::Tensor probs = torch::softmax(scores, -1).to(x.scalar_type());
  const torch::Tensor out = torch::matmul(probs.view({b, kv_heads_, groups * t, slots}), values)
                                .view({b, heads_, t, head_dim_})
                                .transpose(1, 2)
                                .reshape({b, t, heads_ * head_dim_});
  return o_proj(out);
}

MLPImpl::MLPImpl(const ModelConfig& c) {
  auto linear = [](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
  };
  gate_proj = register_module("gate_proj", linear(c.hidden_size, c.intermediate_size));
  up_proj = register_module("up_proj", linear(c.hidden_size, c.intermediate_size));
  down_proj = register_module("down_proj", linear(c.intermediate_size, c.hidden_size));
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) { return down_proj(torch::silu(gate_proj(x)) * up_proj(x)); }

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c) {
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  self_attn = register_module("self_attn", Attention(c));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  mlp = register_module("mlp", MLP(c));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                        const torch::Tensor& mask, torch::Tensor* cache_k, torch::Tensor* cache_v) {
  torch::Tensor h = x + self_attn(input_layernorm(x), cos, sin, mask, cache_k, cache_v);
  return h + mlp(post_attention_layernorm(h));
}

BackboneImpl::BackboneImpl(const ModelConfig& c) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

CausalLMImpl::CausalLMImpl(const ModelConfig& config) : config_(config) {
  model = register_module("model", Backbone(config));
  if (!config.tie_word_embeddings) {
    lm_head = register_module(
        "lm_head", torch::nn::Linear(torch::nn::LinearOptions(config.hidden_size, config.vocab_size).bias(false)));
  }
  const int64_t half = config.head_dim / 2;
  inv_freq_ =
      register_buffer("inv_freq", 1.0 / torch::pow(config.rope_theta, torch::arange(0, half, torch::kFloat64) * 2.0 /
                                                                          static_cast<double>(config.head_dim))
                                            .to(torch::kFloat32));
}

torch::Tensor CausalLMImpl::Hidden(const torch::Tensor& tokens, const torch::Tensor& positions,
                                   const torch::Tensor& token_valid, KVCache* cache) {
  TORCH_CHECK(tokens.dim() == 2 && positions.sizes() == tokens.sizes() && token_valid.sizes() == tokens.sizes(),
              "tokens, positions and token_valid must all be [B, T]");
  const int64_t b = tokens.size(0), t = tokens.size(1);
  const torch::Device dev = device();
  const int64_t cached = (cache != nullptr && !cache->empty()) ? cache->slots() : 0;
  if (cached > 0) TORCH_CHECK(cache->rows() == b, "cache has ", cache->rows(), " rows, batch has ", b);
  torch::Tensor x = model->embed_tokens(tokens.to(dev));
  // RoPE angles per token, float32: [B, T, D].
  const torch::Tensor freqs = positions.to(dev).to(torch::kFloat32).unsqueeze(-1) * inv_freq_.to(dev).view({1, 1, -1});
  const torch::Tensor emb = torch::cat({freqs, freqs}, -1);
  const torch::Tensor cos = emb.cos(), sin = emb.sin();
  // Attention mask [B, T, cached + T]: valid cached slots, plus causal attention among the new tokens.
  const torch::Tensor valid_new = token_valid.to(dev).to(torch::kBool);
  const torch::Tensor valid_all = cached > 0 ? torch::cat({cache->valid.to(dev), valid_new}, 1) : valid_new;
  const torch::Tensor rows = torch::arange(t, torch::TensorOptions().dtype(torch::kInt64).device(dev)).unsqueeze(1);
  const torch::Tensor cols =
      torch::arange(cached + t, torch::TensorOptions().dtype(torch::kInt64).device(dev)).unsqueeze(0) - cached;
  const torch::Tensor mask = valid_all.unsqueeze(1) & (cols <= rows).unsqueeze(0);
  if (cache != nullptr && cache->keys.empty()) {
    cache->keys.resize(config_.num_hidden_layers);
    cache->values.resize(config_.num_hidden_layers);
  }
  for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
    x = model->layers->ptr<DecoderLayerImpl>(l)->forward(x, cos, sin, mask, cache ? &cache->keys[l] : nullptr,
                                                         cache ? &cache->values[l] : nullptr);
  }
  if (cache != nullptr) cache->valid = valid_all;
  return model->norm(x);
}

torch::Tensor CausalLMImpl::Logits(const torch::Tensor& hidden) {
  const torch::Tensor logits =
      config_.tie_word_embeddings ? torch::matmul(hidden, model->embed_tokens->weight.t()) : lm_head(hidden);
  return logits.to(torch::kFloat32);
}

torch::Device CausalLMImpl::device() const { return model->embed_tokens->weight.device(); }
torch::ScalarType CausalLMImpl::dtype() const { return model->embed_tokens->weight.scalar_type(); }

TensorMap CausalLMImpl::StateDict() const {
  TensorMap out;
  for (const auto& item : named_parameters(/*recurse=*/true)) out.emplace(item.key(), item.value());
  return out;
}

absl::Status CausalLMImpl::LoadStateDict(const TensorMap& weights) {
  TensorMap params = StateDict();
  for (const auto& [name, tensor] : weights) {
    if (config_.tie_word_embeddings && name == "lm_head.weight") continue;
    auto it = params.find(name);
    if (it == params.end()) return absl::InvalidArgumentError(absl::StrCat("unexpected tensor '", name, "'"));
    if (it->second.sizes() != tensor.sizes()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' has shape ", c10::str(tensor.sizes()),
                                                     ", the model needs ", c10::str(it->second.sizes())));
    }
  }
  for (const auto& [name, param] : params) {
    if (weights.count(name) == 0) return absl::InvalidArgumentError(absl::StrCat("missing tensor '", name, "'"));
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, param] : params) param.copy_(weights.at(name));
  return absl::OkStatus();
}

absl::StatusOr<CausalLM> LoadModel(const std::string& dir, torch::Device device, torch::ScalarType dtype) {
  ASSIGN_OR_RETURN(std::string config_text, ReadFile(dir + "/config.json"));
  ASSIGN_OR_RETURN(ModelConfig config, ParseModelConfig(config_text));
  ASSIGN_OR_RETURN(TensorMap weights, ReadModelWeights(dir));
  return CatchExceptions("loading " + dir, [&]() -> absl::StatusOr<CausalLM> {
    CausalLM model(config);
    RETURN_IF_ERROR(Annotate(model->LoadStateDict(weights), dir));
    model->to(device, dtype);
    return model;
  });
}

absl::Status SaveModel(CausalLM& model, const std::string& dir) {
  RETURN_IF_ERROR(MakeDirectories(dir));
  ModelConfig config = model->config();
  config.torch_dtype = model->dtype() == torch::kBFloat16 ? "bfloat16" : "float32";
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/config.json", ToJson(config)));
  return WriteSafetensors(dir + "/model.safetensors", model->StateDict());
}

void SetIntraOpThreads(int threads) {
  // 32 MiB is glibc's largest mmap threshold; trimming only above 1 GiB of free heap.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  torch::set_num_threads(threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

CausalLM RandomModel(const ModelConfig& config, uint64_t seed) {
  torch::manual_seed(seed);
  CausalLM model(config);
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters(true)) {
    const std::string& name = item.key();
    if (name.find("norm") != std::string::npos) {
      item.value().fill_(1.0);
    } else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0) {
      item.value().zero_();
    } else {
      item.value().normal_(0.0, 0.02);
    }
  }
  return model;
}

}  // namespace skillsd::model
