#include "learner/trainer.h"

#include <ATen/autocast_mode.h>

#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/inference.h"
#include "model/test_model.h"

namespace skillsd::learner {
namespace {

using ::skillsd::testing::StatusIs;
using ::testing::HasSubstr;

model::ModelConfig SmallConfig() {
  return model::TestModelConfig(/*vocab=*/30, /*hidden=*/32, /*layers=*/2, /*heads=*/4, /*kv_heads=*/2);
}

// Sequences of different lengths: a prompt, then "generated" tokens carrying loss.
std::vector<TrainingSequence> Batch() {
  std::vector<TrainingSequence> batch;
  for (int i = 0; i < 6; ++i) {
    TrainingSequence s;
    const int prompt = 2 + i % 3, generated = 3 + i;
    for (int k = 0; k < prompt + generated; ++k) {
      s.tokens.push_back((i * 7 + k * 3) % 30);
      s.loss_mask.push_back(k >= prompt ? 1 : 0);
      s.old_logprobs.push_back(-3.0f + 0.1f * static_cast<float>(k % 4));
      s.teacher_logprobs.push_back(-2.5f - 0.05f * static_cast<float>(i));
    }
    s.advantage = (i % 2 == 0 ? 1.0 : -1.0) * (0.5 + 0.1 * i);
    batch.push_back(s);
  }
  return batch;
}

double SequenceLogprob(model::CausalLM& m, const TrainingSequence& s) {
  torch::NoGradGuard g;
  auto scored = model::ScoreBatch(*m, {{{s.tokens[0]}, std::vector<int32_t>(s.tokens.begin() + 1, s.tokens.end())}});
  double total = 0;
  for (size_t j = 1; j < s.tokens.size(); ++j) {
    if (s.loss_mask[j]) total += scored->logprobs[0][j - 1].item<double>();
  }
  return total;
}

// Recomputing each layer in the backward pass changes nothing: the same gradients and the same update, with and
// without bf16 autocast (the recomputation runs under the forward's autocast state).
TEST(TrainerTest, ActivationCheckpointingGivesTheSameUpdate) {
  for (bool autocast : {false, true}) {
    TrainerOptions o;
    o.learning_rate = 1e-2;
    o.warmup_steps = 1;
    o.bf16_autocast = autocast;
    o.loss.entropy_coef = 0.01;
    Trainer plain(model::RandomModel(SmallConfig(), 3), o);
    o.activation_checkpointing = true;
    Trainer checkpointed(model::RandomModel(SmallConfig(), 3), o);
    ASSERT_OK_AND_ASSIGN(StepStats a, plain.Step(Batch()));
    ASSERT_OK_AND_ASSIGN(StepStats b, checkpointed.Step(Batch()));
    EXPECT_GT(a.grad_norm, 0);
    EXPECT_NEAR(a.grad_norm, b.grad_norm, 1e-5 * (1 + a.grad_norm)) << "autocast " << autocast;
    const model::TensorMap pa = plain.model()->StateDict(), pb = checkpointed.model()->StateDict();
    for (const auto& [name, t] : pa) {
      EXPECT_LT((t - pb.at(name)).abs().max().item<double>(), 1e-6) << name << ", autocast " << autocast;
    }
  }
}

TEST(TrainerTest, SftLearnsTheDemonstrations) {
  TrainerOptions o;
  o.objective = Objective::kSft;
  o.learning_rate = 1e-2;
  o.warmup_steps = 1;
  Trainer trainer(model::RandomModel(SmallConfig(), 1), o);
  const std::vector<TrainingSequence> batch = Batch();
  ASSERT_OK_AND_ASSIGN(StepStats first, trainer.Step(batch));
  StepStats last;
  for (int i = 0; i < 40; ++i) {
    ASSERT_OK_AND_ASSIGN(last, trainer.Step(batch));
  }
  EXPECT_LT(last.loss, 0.5 * first.loss);
  EXPECT_EQ(trainer.optimizer_steps(), 41);
  EXPECT_GT(first.tokens, 0);
}

// The token budget changes how the work is split, not the gradient: one big micro-batch and many small ones
// accumulate the same (token-mean) gradient, and report the same statistics of the step's loss terms.
TEST(TrainerTest, MicroBatchingDoesNotChangeTheGradient) {
  std::vector<torch::Tensor> grads[2];
  LossOutput terms[2];
  for (int run = 0; run < 2; ++run) {
    TrainerOptions o;
    o.grad_clip = 0;
    o.micro_batch_tokens = run == 0 ? 1 << 20 : 10;
    o.loss.sdl_coef = 0.5;  // large enough that the SDL term matters in the comparison
    Trainer trainer(model::RandomModel(SmallConfig(), 2), o);
    ASSERT_OK_AND_ASSIGN(const StepStats stats, trainer.Step(Batch()));
    terms[run] = stats.terms;
    for (const auto& p : trainer.model()->parameters()) grads[run].push_back(p.grad().clone());
  }
  EXPECT_EQ(terms[0].tokens, terms[1].tokens);
  EXPECT_GT(std::abs(terms[0].sdl), 1e-3);
  for (auto field : {&LossOutput::grpo, &LossOutput::sdl, &LossOutput::teacher_gap_mean, &LossOutput::ratio_mean,
                     &LossOutput::rho_mean, &LossOutput::rho_max, &LossOutput::ratio_min, &LossOutput::ratio_max,
                     &LossOutput::approx_kl_old, &LossOutput::clip_fraction}) {
    EXPECT_NEAR(terms[0].*field, terms[1].*field, 1e-5 * (1 + std::abs(terms[0].*field)));
  }
  double worst = 0, scale = 0;
  for (size_t i = 0; i < grads[0].size(); ++i) {
    worst = std::max(worst, (grads[0][i] - grads[1][i]).abs().max().item<double>());
    scale = std::max(scale, grads[0][i].abs().max().item<double>());
  }
  EXPECT_GT(scale, 1e-4);
  EXPECT_LT(worst, 1e-5 * scale + 1e-8);
}

// One small on-policy step on a single trajectory raises its probability when its advantage is positive and
// lowers it when negative (first order: Adam's first step is a descent direction).
TEST(TrainerTest, SkillSdStepFollowsTheAdvantage) {
  for (double advantage : {1.0, -1.0}) {
    for (int i = 0; i < 3; ++i) {
      TrainerOptions o;
      o.learning_rate = 1e-4;
      o.warmup_steps = 1;
      Trainer trainer(model::RandomModel(SmallConfig(), 10 + i), o);
      TrainingSequence s = Batch()[i];
      s.advantage = advantage;
      {
        torch::NoGradGuard g;
        auto scored = model::ScoreBatch(*trainer.model(),
                                        {{{s.tokens[0]}, std::vector<int32_t>(s.tokens.begin() + 1, s.tokens.end())}});
        for (size_t j = 1; j < s.tokens.size(); ++j) s.old_logprobs[j] = scored->logprobs[0][j - 1].item<float>();
      }
      const double before = SequenceLogprob(trainer.model(), s);
      ASSERT_OK_AND_ASSIGN(StepStats stats, trainer.Step({s}));
      EXPECT_NEAR(stats.terms.ratio_mean, 1.0, 1e-5);  // on-policy
      const double after = SequenceLogprob(trainer.model(), s);
      if (advantage > 0) {
        EXPECT_GT(after, before) << i;
      } else {
        EXPECT_LT(after, before) << i;
      }
    }
  }
}

// The optional KL-to-reference term: the reference is the trainer's starting weights, so the first step's KL is
// exactly 0; once the policy has moved it is positive, and a restored checkpoint does not move the reference.
TEST(TrainerTest, KlToReferenceStartsAtZeroAndGrowsAsThePolicyMoves) {
  TrainerOptions o;
  o.learning_rate = 1e-2;
  o.warmup_steps = 1;
  o.loss.kl_ref_coef = 0.1;
  Trainer trainer(model::RandomModel(SmallConfig(), 5), o);
  ASSERT_OK_AND_ASSIGN(StepStats first, trainer.Step(Batch()));
  EXPECT_DOUBLE_EQ(first.terms.kl_ref, 0.0);
  StepStats later;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(later, trainer.Step(Batch()));
  }
  EXPECT_GT(later.terms.kl_ref, 1e-6);
}

// The optional entropy bonus: the entropy the trainer reports is the mean over loss tokens of the closed form
// -sum p log p of the model's full next-token distribution (computed here from the logits directly).
TEST(TrainerTest, EntropyTermMatchesTheFullDistribution) {
  TrainerOptions o;
  o.learning_rate = 1e-12;  // (the step itself is not under test)
  o.loss.entropy_coef = 0.01;
  model::CausalLM reference_copy = model::RandomModel(SmallConfig(), 6);
  Trainer trainer(model::RandomModel(SmallConfig(), 6), o);
  const TrainingSequence s = Batch()[2];
  double expected = 0, tokens = 0;
  {
    torch::NoGradGuard g;
    const int64_t n = static_cast<int64_t>(s.tokens.size());
    torch::Tensor ids = torch::tensor(std::vector<int64_t>(s.tokens.begin(), s.tokens.end())).unsqueeze(0);
    torch::Tensor positions = torch::arange(n).unsqueeze(0);
    torch::Tensor valid = torch::ones({1, n}, torch::kBool);
    torch::Tensor logp = torch::log_softmax(reference_copy->Forward(ids, positions, valid).to(torch::kFloat64), -1);
    for (int64_t j = 1; j < n; ++j) {
      if (!s.loss_mask[j]) continue;
      expected += -(logp[0][j - 1].exp() * logp[0][j - 1]).sum().item<double>();
      tokens += 1;
    }
  }
  ASSERT_OK_AND_ASSIGN(StepStats stats, trainer.Step({s}));
  EXPECT_NEAR(stats.terms.entropy, expected / tokens, 1e-4);
}

// bf16 autocast: the matrix products run in bfloat16 (so the step differs from float32, by bf16 rounding only),
// while parameters, gradients and AdamW state stay float32, and autocast is off again after the step.
TEST(TrainerTest, Bf16AutocastRoundsProductsButKeepsFloat32State) {
  TrainerOptions o;
  o.learning_rate = 1e-3;
  o.warmup_steps = 1;
  o.grad_clip = 0;
  o.loss.sdl_coef = 0.2;
  TrainerOptions mixed = o;
  mixed.bf16_autocast = true;
  Trainer full(model::RandomModel(SmallConfig(), 3), o);
  Trainer half(model::RandomModel(SmallConfig(), 3), mixed);
  ASSERT_OK_AND_ASSIGN(StepStats a, full.Step(Batch()));
  ASSERT_OK_AND_ASSIGN(StepStats b, half.Step(Batch()));
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
  EXPECT_NE(a.loss, b.loss);  // autocast did something
  EXPECT_NEAR(b.loss, a.loss, 0.02 * std::abs(a.loss) + 1e-3);
  EXPECT_NEAR(b.grad_norm, a.grad_norm, 0.05 * a.grad_norm);
  const auto pf = full.model()->parameters(), ph = half.model()->parameters();
  ASSERT_EQ(pf.size(), ph.size());
  double dot = 0, nf = 0, nh = 0;
  for (size_t i = 0; i < pf.size(); ++i) {
    EXPECT_EQ(ph[i].scalar_type(), torch::kFloat32);
    EXPECT_EQ(ph[i].grad().scalar_type(), torch::kFloat32);
    dot += (pf[i].grad().to(torch::kFloat64) * ph[i].grad().to(torch::kFloat64)).sum().item<double>();
    nf += pf[i].grad().to(torch::kFloat64).pow(2).sum().item<double>();
    nh += ph[i].grad().to(torch::kFloat64).pow(2).sum().item<double>();
  }
  EXPECT_GT(dot / std::sqrt(nf * nh), 0.99);  // the same direction
  for (const auto& state : half.optimizer().state()) {
    const auto& adam = static_cast<const torch::optim::AdamWParamState&>(*state.second);
    EXPECT_EQ(adam.exp_avg().scalar_type(), torch::kFloat32);
    EXPECT_EQ(adam.exp_avg_sq().scalar_type(), torch::kFloat32);
  }
}

TEST(TrainerTest, Bf16AutocastSftLearns) {
  TrainerOptions o;
  o.objective = Objective::kSft;
  o.learning_rate = 1e-2;
  o.warmup_steps = 1;
  o.bf16_autocast = true;
  Trainer trainer(model::RandomModel(SmallConfig(), 1), o);
  ASSERT_OK_AND_ASSIGN(StepStats first, trainer.Step(Batch()));
  StepStats last;
  for (int i = 0; i < 40; ++i) {
    ASSERT_OK_AND_ASSIGN(last, trainer.Step(Batch()));
  }
  EXPECT_LT(last.loss, 0.5 * first.loss);
}

TEST(TrainerTest, EpochsAndMinibatchesCountOptimizerSteps) {
  TrainerOptions o;
  o.ppo_epochs = 2;
  o.minibatches = 3;
  Trainer trainer(model::RandomModel(SmallConfig(), 5), o);
  ASSERT_OK_AND_ASSIGN(StepStats stats, trainer.Step(Batch()));
  EXPECT_EQ(stats.optimizer_steps, 6);
  EXPECT_EQ(trainer.optimizer_steps(), 6);
  double loss_tokens = 0;
  for (const auto& s : Batch()) {
    for (size_t j = 1; j < s.loss_mask.size(); ++j) loss_tokens += s.loss_mask[j];
  }
  EXPECT_EQ(stats.tokens, 2 * loss_tokens);
}

TEST(TrainerTest, MalformedBatchesChangeNothing) {
  Trainer trainer(model::RandomModel(SmallConfig(), 4), TrainerOptions());
  const torch::Tensor before = trainer.model()->model->embed_tokens->weight.clone();
  std::vector<TrainingSequence> batch = Batch();
  batch[2].old_logprobs.pop_back();
  EXPECT_THAT(trainer.Step(batch), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sequence 2")));
  batch = Batch();
  batch[1].tokens[3] = 30;
  EXPECT_THAT(trainer.Step(batch), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside")));
  EXPECT_THAT(trainer.Step({}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(torch::equal(before, trainer.model()->model->embed_tokens->weight));
  EXPECT_EQ(trainer.optimizer_steps(), 0);
}

}  // namespace
}  // namespace skillsd::learner
