#include "learner/training_options.h"

namespace skillsd::learner {

LossOptions LossOptionsFor(const AlgorithmConfig& a) {
  LossOptions o;
  o.clip_low = a.clip_low;
  o.clip_high = a.clip_high;
  o.max_neg_log_gap = a.max_neg_log_gap;
  o.max_log_rho = a.max_log_rho;
  o.kl_ref_coef = a.kl_ref_coef;
  o.entropy_coef = a.entropy_coef;
  const ModeTraits& mode = Traits(a.mode);
  o.grpo_coef = mode.grpo_coef;
  o.sdl_coef = mode.SdlCoef(a.sdl_coef);
  return o;
}

TrainerOptions TrainerOptionsFor(const ExperimentConfig& c) {
  TrainerOptions o;
  o.objective = Objective::kSkillSd;
  o.loss = LossOptionsFor(c.algorithm);
  o.learning_rate = c.learner.learning_rate;
  o.warmup_steps = c.learner.warmup_steps;
  o.weight_decay = c.learner.weight_decay;
  o.grad_clip = c.learner.grad_clip;
  o.ppo_epochs = c.learner.ppo_epochs;
  o.minibatches = c.learner.minibatches;
  o.micro_batch_tokens = c.learner.micro_batch_tokens;
  o.temperature = c.algorithm.temperature;
  o.seed = c.run.seed;
  o.bf16_autocast = c.learner.bf16_autocast;
  o.activation_checkpointing = c.learner.activation_checkpointing;
  return o;
}

AdvantageOptions AdvantageOptionsFor(const ExperimentConfig& c) {
  AdvantageOptions o;
  o.eps = c.algorithm.advantage_eps;
  o.sample_std = c.algorithm.advantage_std == "sample";
  o.balance_trajectories = c.algorithm.loss_aggregation == "trajectory_mean";
  return o;
}

skillsd::v1::TrainingMode ToProto(TrainingMode mode) {
  return static_cast<skillsd::v1::TrainingMode>(Traits(mode).proto_number);
}

}  // namespace skillsd::learner
