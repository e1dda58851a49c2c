#include "learner/losses.h"

#include <cmath>
#include <numeric>

namespace skillsd::learner {

LossOutput SkillSdLoss(const LossInputs& in, const LossOptions& o) {
  TORCH_CHECK(in.logprobs.dim() == 1, "logprobs must be [N]");
  const auto n = in.logprobs.size(0);
  for (const torch::Tensor* t : {&in.old_logprobs, &in.advantages, &in.mask}) {
    TORCH_CHECK(t->defined() && t->dim() == 1 && t->size(0) == n, "old_logprobs, advantages, mask must be [N]");
  }
  LossOutput out;
  const torch::Tensor mask = in.mask.to(in.logprobs.scalar_type());
  const torch::Tensor count = mask.sum();
  out.tokens = count.item<double>();
  const torch::Tensor denom = count.clamp_min(1.0);
  auto mean = [&](const torch::Tensor& per_token) { return (per_token * mask).sum() / denom; };

  const torch::Tensor old = in.old_logprobs.detach();
  const torch::Tensor log_ratio = in.logprobs - old;
  const torch::Tensor ratio = torch::exp(log_ratio);
  torch::Tensor total = torch::zeros({}, in.logprobs.options());

  if (o.grpo_coef != 0) {
    const torch::Tensor adv = in.advantages.detach();
    const torch::Tensor unclipped = ratio * adv;
    const torch::Tensor clipped = torch::clamp(ratio, 1.0 - o.clip_low, 1.0 + o.clip_high) * adv;
    const torch::Tensor grpo = -mean(torch::min(unclipped, clipped));
    total = total + o.grpo_coef * grpo;
    out.grpo = grpo.item<double>();
    out.clip_fraction = mean((clipped < unclipped).to(mask.scalar_type())).item<double>();
  }
  if (o.sdl_coef != 0) {
    TORCH_CHECK(in.teacher_logprobs.defined() && in.teacher_logprobs.sizes() == in.logprobs.sizes(),
                "teacher_logprobs must be [N] when sdl_coef != 0");
    const torch::Tensor gap = in.logprobs - in.teacher_logprobs.detach();  // ℓ
    const torch::Tensor neg_gap = torch::clamp_max(-gap, o.max_neg_log_gap);
    const torch::Tensor k3 = torch::exp(neg_gap) - 1.0 + gap;
    const torch::Tensor rho = torch::exp(torch::clamp_max(log_ratio, o.max_log_rho));
    const torch::Tensor sdl = mean(rho * k3);
    total = total + o.sdl_coef * sdl;
    out.sdl = sdl.item<double>();
    out.rho_mean = mean(rho).item<double>();
    out.rho_max = out.tokens > 0 ? rho.masked_select(mask > 0).max().item<double>() : 0.0;
    out.teacher_gap_mean = mean(gap).item<double>();
  }
  if (o.kl_ref_coef != 0) {
    TORCH_CHECK(in.ref_logprobs.defined(), "ref_logprobs needed for kl_ref_coef");
    const torch::Tensor d = in.ref_logprobs.detach() - in.logprobs;
    const torch::Tensor kl = mean(torch::exp(d) - 1.0 - d);
    total = total + o.kl_ref_coef * kl;
    out.kl_ref = kl.item<double>();
  }
  if (o.entropy_coef != 0) {
    TORCH_CHECK(in.entropy.defined(), "entropy needed for entropy_coef");
    const torch::Tensor h = mean(in.entropy);
    total = total - o.entropy_coef * h;
    out.entropy = h.item<double>();
  }
  {
    torch::NoGradGuard no_grad;
    if (out.tokens > 0) {
      const torch::Tensor live = ratio.masked_select(mask > 0);
      out.ratio_mean = live.mean().item<double>();
      out.ratio_min = live.min().item<double>();
      out.ratio_max = live.max().item<double>();
      out.approx_kl_old = mean(torch::exp(log_ratio) - 1.0 - log_ratio).item<double>();
    }
  }
  out.total = total;
  return out;
}

void AddLossStatistics(const LossOutput& part, LossOutput* sum) {
  if (part.tokens <= 0) return;
  const double before = sum->tokens, after = sum->tokens + part.tokens;
  for (auto field :
       {&LossOutput::grpo, &LossOutput::sdl, &LossOutput::kl_ref, &LossOutput::entropy, &LossOutput::clip_fraction,
        &LossOutput::ratio_mean, &LossOutput::rho_mean, &LossOutput::teacher_gap_mean, &LossOutput::approx_kl_old}) {
    sum->*field = (sum->*field * before + part.*field * part.tokens) / after;
  }
  sum->ratio_min = before > 0 ? std::min(sum->ratio_min, part.ratio_min) : part.ratio_min;
  sum->ratio_max = before > 0 ? std::max(sum->ratio_max, part.ratio_max) : part.ratio_max;
  sum->rho_max = before > 0 ? std::max(sum->rho_max, part.rho_max) : part.rho_max;
  sum->tokens = after;
}

std::vector<double> GroupAdvantages(const std::vector<double>& rewards, double eps, bool sample_std) {
  std::vector<double> out(rewards.size(), 0.0);
  const size_t g = rewards.size();
  if (g == 0) return out;
  const double mean = std::accumulate(rewards.begin(), rewards.end(), 0.0) / static_cast<double>(g);
  double ss = 0;
  for (double r : rewards) ss += (r - mean) * (r - mean);
  const double dof = sample_std ? static_cast<double>(g) - 1.0 : static_cast<double>(g);
  const double std = dof > 0 ? std::sqrt(ss / dof) : 0.0;
  for (size_t i = 0; i < g; ++i) out[i] = (rewards[i] - mean) / (std + eps);
  return out;
}

}  // namespace skillsd::learner
