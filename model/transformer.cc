#include "model/transformer.h"

#include <malloc.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/status.h"
#include "model/autocast.h"

namespace skillsd::model {
namespace {

torch::Tensor RotateHalf(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// One decoder layer whose intermediates are not kept: the forward runs without a graph and saves the layer's
// input; the backward runs the layer again with gradients (a reentrant backward, as PyTorch's checkpoint does),
// which accumulates the parameters' gradients and gives the input's.
class CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                                const torch::Tensor& cos, const torch::Tensor& sin,
                                                const torch::Tensor& mask, DecoderLayerImpl* layer) {
    torch::ScalarType dtype = torch::kBFloat16;
    const bool autocast = AutocastEnabled(x.device(), &dtype);
    ctx->save_for_backward({x, cos, sin, mask});
    ctx->saved_data["layer"] = reinterpret_cast<int64_t>(layer);
    ctx->saved_data["autocast"] = autocast;
    ctx->saved_data["dtype"] = static_cast<int64_t>(dtype);
    return {layer->forward(x, cos, sin, mask, nullptr, nullptr)};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    auto* layer = reinterpret_cast<DecoderLayerImpl*>(ctx->saved_data["layer"].toInt());
    const torch::Tensor input = saved[0].detach().requires_grad_(true);
    {
      torch::AutoGradMode grad(true);
      AutocastRegion autocast(ctx->saved_data["autocast"].toBool(), input.device(),
                              static_cast<torch::ScalarType>(ctx->saved_data["dtype"].toInt()));
      const torch::Tensor out = layer->forward(input, saved[1], saved[2], saved[3], nullptr, nullptr);
      torch::autograd::backward({out}, {grads[0]});
    }
    return {input.grad(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

void KVCache::Reserve(int64_t layers, int64_t kv_heads, int64_t head_dim, const torch::TensorOptions& options,
                      int64_t rows, int64_t slots) {
  const int64_t have_rows = row_capacity(), have_slots = slot_capacity();
  if (!keys.empty() && rows <= have_rows && slots <= have_slots) return;
  // Geometric growth: appending one token at a time costs amortised O(1) copies per slot.
  const int64_t new_rows = keys.empty() ? rows : std::max(rows, rows > have_rows ? 2 * have_rows : have_rows);
  const int64_t new_slots = keys.empty() ? slots : std::max(slots, slots > have_slots ? 2 * have_slots : have_slots);
  std::vector<torch::Tensor> new_keys(layers), new_values(layers);
  for (int64_t l = 0; l < layers; ++l) {
    new_keys[l] = torch::zeros({new_rows, kv_heads, new_slots, head_dim}, options);
    new_values[l] = torch::zeros({new_rows, kv_heads, new_slots, head_dim}, options);
    if (!keys.empty()) {
      new_keys[l].narrow(0, 0, have_rows).narrow(2, 0, have_slots).copy_(keys[l]);
      new_values[l].narrow(0, 0, have_rows).narrow(2, 0, have_slots).copy_(values[l]);
    }
  }
  keys = std::move(new_keys);
  values = std::move(new_values);
}

void KVCache::CopyRow(int64_t from, int64_t to, int64_t slots) {
  if (from == to) return;
  for (size_t l = 0; l < keys.size(); ++l) {
    keys[l][to].narrow(1, 0, slots).copy_(keys[l][from].narrow(1, 0, slots));
    values[l][to].narrow(1, 0, slots).copy_(values[l][from].narrow(1, 0, slots));
  }
  lengths[to] = slots;
}

void KVCache::CopyPrefix(const std::vector<torch::Tensor>& prefix_keys, const std::vector<torch::Tensor>& prefix_values,
                         int64_t to, int64_t slots) {
  for (size_t l = 0; l < keys.size(); ++l) {
    keys[l][to].narrow(1, 0, slots).copy_(prefix_keys[l][0].narrow(1, 0, slots));
    values[l][to].narrow(1, 0, slots).copy_(prefix_values[l][0].narrow(1, 0, slots));
  }
  lengths[to] = slots;
}

void KVCache::SwapRows(int64_t a, int64_t b) {
  if (a == b) return;
  const int64_t slots = std::max(lengths[a], lengths[b]);
  for (size_t l = 0; l < keys.size(); ++l) {
    for (torch::Tensor* t : {&keys[l], &values[l]}) {
      const torch::Tensor saved = (*t)[a].narrow(1, 0, slots).clone();
      (*t)[a].narrow(1, 0, slots).copy_((*t)[b].narrow(1, 0, slots));
      (*t)[b].narrow(1, 0, slots).copy_(saved);
    }
  }
  std::swap(lengths[a], lengths[b]);
}

void KVCache::RemoveRow(int64_t r) {
  const int64_t last = rows() - 1;
  if (r != last) CopyRow(last, r, lengths[last]);
  lengths.pop_back();
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
                                     const torch::Tensor& mask, torch::Tensor* cache_k, torch::Tensor* cache_v,
                                     const torch::Tensor& slots, int64_t first_row) {
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
  const int64_t attended = mask.size(-1);
  if (cache_k != nullptr) {
    // In place: cache[row, head, slot, :] = new key/value for every (row, head, new token), as one index_copy_
    // into the cache seen as [rows × heads × slots, D] (`slots` holds those flat indices, in k's [B, H, T] order);
    // then the first `attended` slots of the batch's rows are the keys (a view, no copy).
    cache_k->view({-1, head_dim_}).index_copy_(0, slots, k.reshape({-1, head_dim_}).to(cache_k->scalar_type()));
    cache_v->view({-1, head_dim_}).index_copy_(0, slots, v.reshape({-1, head_dim_}).to(cache_v->scalar_type()));
    keys = cache_k->narrow(0, first_row, b).narrow(2, 0, attended);
    values = cache_v->narrow(0, first_row, b).narrow(2, 0, attended);
  }
  // Query heads kv*G .. kv*G+G-1 share key/value head kv: fold the group into the query rows instead of
  // repeating keys and values.
  const torch::Tensor qg = q.reshape({b, kv_heads_, groups * t, head_dim_});
  torch::Tensor out;
#if TORCH_VERSION_MAJOR >= 2
  // The fused kernels (flash / memory-efficient on CUDA, a blocked one on CPU); the mask repeated over the group.
  const torch::Tensor folded_mask =
      mask.view({b, 1, 1, t, attended}).expand({b, 1, groups, t, attended}).reshape({b, 1, groups * t, attended});
  out = at::scaled_dot_product_attention(qg, keys, values, folded_mask);
#else
  // The scale goes on the queries and the mask is applied in place: two fewer [B, H, T, S] tensors alive at once
  // (neither the matmul's nor masked_fill's backward needs the scores themselves).
  torch::Tensor scores = torch::matmul(qg * (1.0 / std::sqrt(static_cast<double>(head_dim_))), keys.transpose(2, 3))
                             .view({b, kv_heads_, groups, t, attended})
                             .to(torch::kFloat32);
  scores.masked_fill_(mask.view({b, 1, 1, t, attended}).logical_not(), -1e30);
  const torch::Tensor probs = torch::softmax(scores, -1).to(x.scalar_type());
  out = torch::matmul(probs.view({b, kv_heads_, groups * t, attended}), values);
#endif
  return o_proj(out.view({b, heads_, t, head_dim_}).transpose(1, 2).reshape({b, t, heads_ * head_dim_}));
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
                                        const torch::Tensor& mask, torch::Tensor* cache_k, torch::Tensor* cache_v,
                                        const torch::Tensor& slots, int64_t first_row) {
  torch::Tensor h = x + self_attn->forward(input_layernorm(x), cos, sin, mask, cache_k, cache_v, slots, first_row);
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
                                   const torch::Tensor& token_valid, KVCache* cache, int64_t first_row) {
  TORCH_CHECK(tokens.dim() == 2 && positions.sizes() == tokens.sizes() && token_valid.sizes() == tokens.sizes(),
              "tokens, positions and token_valid must all be [B, T]");
  const int64_t b = tokens.size(0), t = tokens.size(1);
  const torch::Device dev = device();
  const auto int64 = torch::TensorOptions().dtype(torch::kInt64).device(dev);
  torch::Tensor x = model->embed_tokens(tokens.to(dev));
  // RoPE angles per token, float32: [B, T, D].
  const torch::Tensor freqs = positions.to(dev).to(torch::kFloat32).unsqueeze(-1) * inv_freq_.to(dev).view({1, 1, -1});
  const torch::Tensor emb = torch::cat({freqs, freqs}, -1);
  const torch::Tensor cos = emb.cos(), sin = emb.sin();
  const torch::Tensor valid_new = token_valid.to(dev).to(torch::kBool);
  const torch::Tensor query = torch::arange(t, int64).view({1, t, 1});
  torch::Tensor mask, slots;
  std::vector<int64_t> counts;
  if (cache == nullptr) {
    // [B, T, T]: valid keys, causal.
    mask = valid_new.unsqueeze(1) & (torch::arange(t, int64).view({1, 1, t}) <= query);
  } else {
    TORCH_CHECK(first_row >= 0 && first_row <= cache->rows(), "first_row ", first_row, " outside the cache");
    if (cache->rows() < first_row + b) cache->AddRows(first_row + b - cache->rows());
    const std::vector<int64_t> before(cache->lengths.begin() + first_row, cache->lengths.begin() + first_row + b);
    const int64_t longest = *std::max_element(before.begin(), before.end());
    cache->Reserve(config_.num_hidden_layers, config_.num_key_value_heads, config_.head_dim,
                   torch::TensorOptions().dtype(dtype()).device(dev), cache->rows(), longest + t);
    // New token j of row r goes to slot lengths[r] + j and attends to slots [0, lengths[r] + j].
    const torch::Tensor start = torch::tensor(before, torch::kInt64).to(dev).view({b, 1});
    const torch::Tensor slot = start + torch::arange(t, int64).view({1, t});  // [B, T]
    mask = torch::arange(longest + t, int64).view({1, 1, -1}) <= slot.unsqueeze(-1);
    // Flat indices into every layer's cache viewed as [rows × H_kv × slots, D], ordered as [B, H_kv, T].
    const int64_t heads = config_.num_key_value_heads, capacity = cache->slot_capacity();
    const torch::Tensor row = torch::arange(first_row, first_row + b, int64).view({b, 1, 1});
    slots =
        ((row * heads + torch::arange(heads, int64).view({1, heads, 1})) * capacity + slot.unsqueeze(1)).reshape({-1});
    // One copy to the host (a per-row item() would synchronise a GPU once per row).
    const torch::Tensor n = valid_new.sum(1).to(torch::kCPU).contiguous();
    counts.assign(n.data_ptr<int64_t>(), n.data_ptr<int64_t>() + b);
  }
  const bool checkpoint = activation_checkpointing_ && cache == nullptr && torch::GradMode::is_enabled();
  for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
    DecoderLayerImpl* layer = model->layers->ptr<DecoderLayerImpl>(l).get();
    if (checkpoint) {
      x = CheckpointedLayer::apply(x, cos, sin, mask, layer)[0];
    } else {
      x = layer->forward(x, cos, sin, mask, cache ? &cache->keys[l] : nullptr, cache ? &cache->values[l] : nullptr,
                         slots, first_row);
    }
  }
  if (cache != nullptr) {
    for (int64_t r = 0; r < b; ++r) cache->lengths[first_row + r] += counts[r];
  }
  return model->norm(x);
}

torch::Tensor CausalLMImpl::Logits(const torch::Tensor& hidden) {
  return torch::matmul(hidden, LmHeadWeight().t()).to(torch::kFloat32);
}

torch::Tensor CausalLMImpl::LmHeadWeight() const {
  return config_.tie_word_embeddings ? model->embed_tokens->weight : lm_head->weight;
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
