#include "model/vocab_head.h"

#include <algorithm>

#include "model/autocast.h"

namespace skillsd::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The dtype matrix products run in: autocast's inside an autocast region for the weight's device, the weight's
// own otherwise. The backward pass runs outside the region (autocast state is per thread), so the forward records
// it.
torch::ScalarType ComputeDtype(const torch::Tensor& weight) {
  torch::ScalarType dtype;
  return AutocastEnabled(weight.device(), &dtype) ? dtype : weight.scalar_type();
}

// Float32 tempered log-softmax of one chunk: [rows, V].
torch::Tensor ChunkLogSoftmax(const torch::Tensor& hidden, const torch::Tensor& weight, double temperature) {
  torch::Tensor logits = torch::matmul(hidden, weight.t()).to(torch::kFloat32);
  if (temperature != 1.0) logits.div_(temperature);
  return torch::log_softmax(logits, -1);
}

struct Chunked {
  torch::Tensor logprobs, entropy, top_ids, top_logprobs, probe_logprobs;
};

// The forward pass, without autograd.
Chunked Forward(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& targets,
                double temperature, int64_t chunk, bool with_entropy, int top_k, const torch::Tensor& probes,
                torch::ScalarType dtype) {
  const int64_t n = hidden.size(0), vocab = weight.size(0);
  const auto f32 = hidden.options().dtype(torch::kFloat32);
  Chunked out;
  out.logprobs = torch::empty({n}, f32);
  if (with_entropy) out.entropy = torch::empty({n}, f32);
  const int64_t k = std::min<int64_t>(top_k, vocab);
  if (k > 0) {
    out.top_ids = torch::empty({n, k}, f32.dtype(torch::kInt64));
    out.top_logprobs = torch::empty({n, k}, f32);
  }
  if (probes.defined()) out.probe_logprobs = torch::empty({n, probes.size(0)}, f32);
  const torch::Tensor w = weight.to(dtype);
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t rows = std::min(chunk, n - begin);
    const torch::Tensor logp = ChunkLogSoftmax(hidden.narrow(0, begin, rows).to(dtype), w, temperature);
    out.logprobs.narrow(0, begin, rows).copy_(logp.gather(1, targets.narrow(0, begin, rows).unsqueeze(1)).squeeze(1));
    if (with_entropy) out.entropy.narrow(0, begin, rows).copy_(-(logp.exp() * logp).sum(-1));
    if (k > 0) {
      auto top = logp.topk(k, -1);
      out.top_logprobs.narrow(0, begin, rows).copy_(std::get<0>(top));
      out.top_ids.narrow(0, begin, rows).copy_(std::get<1>(top));
    }
    if (probes.defined()) out.probe_logprobs.narrow(0, begin, rows).copy_(logp.index_select(1, probes));
  }
  return out;
}

// log π(target) and the entropy with a backward pass that recomputes each chunk's log-softmax:
//   ∂ log p_t / ∂z = onehot(t) − p,   ∂H / ∂z = −p ⊙ (log p + H),   z = hidden · Wᵀ / T.
class VocabHeadFunction : public torch::autograd::Function<VocabHeadFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& hidden, const torch::Tensor& weight,
                               const torch::Tensor& targets, double temperature, int64_t chunk, bool with_entropy) {
    const torch::ScalarType dtype = ComputeDtype(weight);
    Chunked out = Forward(hidden, weight, targets, temperature, chunk, with_entropy, 0, torch::Tensor(), dtype);
    ctx->save_for_backward({hidden, weight, targets});
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["dtype"] = static_cast<int64_t>(dtype);
    if (with_entropy) return {out.logprobs, out.entropy};
    return {out.logprobs};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& hidden = saved[0];
    const torch::Tensor& weight = saved[1];
    const torch::Tensor& targets = saved[2];
    const double temperature = ctx->saved_data["temperature"].toDouble();
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const auto dtype = static_cast<torch::ScalarType>(ctx->saved_data["dtype"].toInt());
    const bool with_entropy = grads.size() > 1;
    const torch::Tensor grad_logp = grads[0].defined() ? grads[0].to(torch::kFloat32) : torch::Tensor();
    const torch::Tensor grad_ent = with_entropy && grads[1].defined() ? grads[1].to(torch::kFloat32) : torch::Tensor();
    const int64_t n = hidden.size(0);
    const bool need_hidden = ctx->needs_input_grad(0), need_weight = ctx->needs_input_grad(1);
    torch::Tensor grad_hidden = need_hidden ? torch::zeros_like(hidden) : torch::Tensor();
    torch::Tensor grad_weight =
        need_weight ? torch::zeros(weight.sizes(), weight.options().dtype(torch::kFloat32)) : torch::Tensor();
    const torch::Tensor w = weight.to(dtype);
    for (int64_t begin = 0; begin < n && (grad_logp.defined() || grad_ent.defined()); begin += chunk) {
      const int64_t rows = std::min(chunk, n - begin);
      const torch::Tensor h = hidden.narrow(0, begin, rows).to(dtype);
      const torch::Tensor logp = ChunkLogSoftmax(h, w, temperature);
      const torch::Tensor p = logp.exp();
      torch::Tensor dz = torch::zeros_like(logp);
      if (grad_logp.defined()) {
        const torch::Tensor g = grad_logp.narrow(0, begin, rows).unsqueeze(1);
        dz.sub_(p * g);
        dz.scatter_add_(1, targets.narrow(0, begin, rows).unsqueeze(1), g);
      }
      if (grad_ent.defined()) {
        const torch::Tensor g = grad_ent.narrow(0, begin, rows).unsqueeze(1);
        const torch::Tensor entropy = -(p * logp).sum(-1, /*keepdim=*/true);  // recomputed, as the logits are
        dz.sub_(p * (logp + entropy) * g);
      }
      if (temperature != 1.0) dz.div_(temperature);
      const torch::Tensor dzc = dz.to(dtype);
      if (need_hidden) grad_hidden.narrow(0, begin, rows).copy_(torch::matmul(dzc, w));
      if (need_weight) grad_weight.add_(torch::matmul(dzc.t(), h).to(torch::kFloat32));
    }
    if (grad_weight.defined()) grad_weight = grad_weight.to(weight.scalar_type());
    return {grad_hidden, grad_weight, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

int64_t DefaultChunkRows(int64_t vocab, int64_t bytes) {
  return std::max<int64_t>(1, bytes / (4 * std::max<int64_t>(1, vocab)));
}

VocabHeadOutput VocabHead(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& targets,
                          const VocabHeadOptions& options) {
  TORCH_CHECK(hidden.dim() == 2 && weight.dim() == 2 && hidden.size(1) == weight.size(1),
              "VocabHead: hidden [N, H] and weight [V, H] expected");
  TORCH_CHECK(targets.dim() == 1 && targets.size(0) == hidden.size(0), "VocabHead: targets [N] expected");
  const int64_t chunk = options.chunk_rows > 0 ? options.chunk_rows : DefaultChunkRows(weight.size(0));
  const torch::Tensor t = targets.to(hidden.device(), torch::kInt64);
  torch::Tensor probes;
  if (!options.probe_ids.empty()) {
    for (int64_t id : options.probe_ids)
      TORCH_CHECK(id >= 0 && id < weight.size(0), "VocabHead: probe id ", id, " outside the vocabulary");
    probes = torch::tensor(options.probe_ids, torch::kInt64).to(hidden.device());
  }
  VocabHeadOutput out;
  const bool grad = torch::GradMode::is_enabled() && (hidden.requires_grad() || weight.requires_grad());
  if (!grad) {
    Chunked c = Forward(hidden, weight, t, options.temperature, chunk, options.with_entropy, options.top_k, probes,
                        ComputeDtype(weight));
    return {c.logprobs, c.entropy, c.top_ids, c.top_logprobs, c.probe_logprobs};
  }
  variable_list result = VocabHeadFunction::apply(hidden, weight, t, options.temperature, chunk, options.with_entropy);
  out.logprobs = result[0];
  if (options.with_entropy) out.entropy = result[1];
  if (options.top_k > 0 || probes.defined()) {
    torch::NoGradGuard no_grad;
    Chunked c = Forward(hidden.detach(), weight.detach(), t, options.temperature, chunk, false, options.top_k, probes,
                        ComputeDtype(weight));
    out.top_k_ids = c.top_ids;
    out.top_k_logprobs = c.top_logprobs;
    out.probe_logprobs = c.probe_logprobs;
  }
  return out;
}

}  // namespace skillsd::model
