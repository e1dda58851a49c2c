// The Skill-SD objective (SPEC-skill-sd.md §2), token-level, on flat tensors of the generated tokens of a
// batch:
//   ratio        r = π_θ(y) / π_θold(y)
//   GRPO         L_GRPO = −(1/N) Σ min(r·Â, clip(r, 1−ε_low, 1+ε_high)·Â)
//   teacher gap  ℓ = log π_θ(y) − log π_θ̄(y | x ⊕ S)           (teacher term constant)
//   weight       ρ = π_θ(y) / sg(π_θold(y))                    (numerator keeps its gradient)
//   SDL          L_SDL = (1/N) Σ ρ · (exp(−ℓ) − 1 + ℓ)           (−ℓ clamped ≤ max_neg_log_gap, log ρ ≤ max_log_rho)
//   total        L = grpo_coef · L_GRPO + sdl_coef · L_SDL [+ kl_ref_coef · KL_ref − entropy_coef · H]
// N is the number of loss-masked tokens in the batch (token mean). d(ρ·k3)/dθ = ρ·ℓ·∇log π_θ(y), whose
// expectation under y ~ π_θold is the gradient of the reverse KL(π_θ ‖ π_teacher) — tested by enumeration.
// Builds without gRPC (the ML core).
#ifndef SKILLSD_LEARNER_LOSSES_H_
#define SKILLSD_LEARNER_LOSSES_H_

#include <torch/torch.h>

#include <vector>

namespace skillsd::learner {

// How the terms are weighted; LossOptionsFor (learner/training_options.h) sets them from the config and the mode table
// (core/training_mode.h).
struct LossOptions {
  double grpo_coef = 1.0;       // 0 for opd
  double sdl_coef = 0.001;      // λ; 0 for grpo and skill_augmented_grpo
  double clip_low = 0.2;        // ε_low
  double clip_high = 0.28;      // ε_high
  double max_neg_log_gap = 20;  // clamp of −ℓ before exp
  double max_log_rho = 10;      // clamp of log ρ
  double kl_ref_coef = 0;       // k3 KL to a reference policy (needs ref_logprobs)
  double entropy_coef = 0;      // entropy bonus (needs entropy)
};

// Per generated token, all [N] (any float dtype; float64 in tests). Only `logprobs` needs gradients.
struct LossInputs {
  torch::Tensor logprobs;          // log π_θ(y)
  torch::Tensor old_logprobs;      // log π_θold(y), the behaviour log-probs
  torch::Tensor teacher_logprobs;  // log π_θ̄(y | x ⊕ S); undefined when sdl_coef == 0
  torch::Tensor advantages;        // Â of each token's trajectory
  torch::Tensor mask;              // 1 where the token carries loss
  torch::Tensor ref_logprobs;      // optional: log π_ref(y), for kl_ref_coef
  torch::Tensor entropy;           // optional: entropy of π_θ at each position, for entropy_coef
};

// The loss and detached statistics for metrics.
struct LossOutput {
  torch::Tensor total;  // scalar, differentiable
  double grpo = 0, sdl = 0, kl_ref = 0, entropy = 0;
  double clip_fraction = 0;  // tokens whose clipped branch is active
  double ratio_mean = 0, ratio_min = 0, ratio_max = 0;
  double rho_mean = 0, rho_max = 0;
  double teacher_gap_mean = 0;  // mean ℓ
  double approx_kl_old = 0;     // k3 estimate of KL(π_θold ‖ π_θ) on the batch
  double tokens = 0;            // N
};

// INVALID-shaped inputs are programming errors (TORCH_CHECK); an all-zero mask gives a zero loss.
LossOutput SkillSdLoss(const LossInputs& inputs, const LossOptions& options);

// Folds the statistics of one more batch into `sum` (not `total`): its means weighted by tokens, its extremes
// (ratio_min/max, rho_max) as extremes, its tokens added; a batch without tokens changes nothing. Folding the
// micro-batches of a step one by one gives the statistics of the whole step.
void AddLossStatistics(const LossOutput& part, LossOutput* sum);

// Group-normalised advantages Â_i = (R_i − mean R) / (std R + eps), with the population (or sample) standard
// deviation. One group; all rewards equal → zeros.
std::vector<double> GroupAdvantages(const std::vector<double>& rewards, double eps, bool sample_std = false);

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_LOSSES_H_
