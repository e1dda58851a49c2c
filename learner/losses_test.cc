// The Skill-SD losses in float64 against closed forms (SPEC §2), central finite differences, and the defining
// property of the importance-weighted k3: its expected gradient under the behaviour policy is the exact
// reverse-KL gradient (enumerated over a small vocabulary), which unweighted k3 is not.
#include "learner/losses.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skillsd::learner {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// One token y at one position with logits z: log π_θ(y) = log_softmax(z)[y].
struct Position {
  torch::Tensor z;  // [V] leaf with gradient
  int64_t y;
  torch::Tensor logp() const { return torch::log_softmax(z, 0)[y].reshape({1}); }
  torch::Tensor p() const { return torch::softmax(z, 0).detach(); }
  torch::Tensor onehot() const { return torch::zeros_like(z).index_fill_(0, torch::tensor({y}), 1.0).detach(); }
};

Position MakePosition(int64_t vocab, int64_t y, uint64_t seed) {
  torch::manual_seed(seed);
  return {torch::randn({vocab}, kF64).requires_grad_(true), y};
}

LossInputs Single(const Position& pos, double old_logp, double teacher_logp, double advantage) {
  LossInputs in;
  in.logprobs = pos.logp();
  in.old_logprobs = torch::full({1}, old_logp, kF64);
  in.teacher_logprobs = torch::full({1}, teacher_logp, kF64);
  in.advantages = torch::full({1}, advantage, kF64);
  in.mask = torch::ones({1}, kF64);
  return in;
}

torch::Tensor Grad(const torch::Tensor& loss, const torch::Tensor& wrt) {
  return torch::autograd::grad({loss}, {wrt}, {}, /*retain_graph=*/true)[0];
}

// Central differences of f at z.
torch::Tensor FiniteDifference(const std::function<double(const torch::Tensor&)>& f, const torch::Tensor& z) {
  const double h = 1e-6;
  torch::Tensor g = torch::zeros_like(z);
  for (int64_t i = 0; i < z.size(0); ++i) {
    torch::Tensor plus = z.detach().clone(), minus = z.detach().clone();
    plus[i] += h;
    minus[i] -= h;
    g[i] = (f(plus) - f(minus)) / (2 * h);
  }
  return g;
}

double MaxAbs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

TEST(SdlTest, GradientMatchesClosedFormAndFiniteDifferences) {
  LossOptions o;
  o.grpo_coef = 0;
  o.sdl_coef = 1;
  for (uint64_t seed : {1, 2, 3}) {
    Position pos = MakePosition(6, 2, seed);
    const double old_logp = pos.logp().item<double>() - 0.3;  // off-policy: ρ = e^0.3
    const double teacher_logp = -0.9;
    const LossOutput out = SkillSdLoss(Single(pos, old_logp, teacher_logp, 0.0), o);
    const torch::Tensor autograd = Grad(out.total, pos.z);
    const double logp = pos.logp().item<double>();
    const double rho = std::exp(logp - old_logp), gap = logp - teacher_logp;
    const torch::Tensor closed = rho * gap * (pos.onehot() - pos.p());
    EXPECT_LT(MaxAbs(autograd - closed), 1e-12) << "seed " << seed;
    const torch::Tensor fd = FiniteDifference(
        [&](const torch::Tensor& z) {
          const double lp = torch::log_softmax(z, 0)[pos.y].item<double>();
          const double l = lp - teacher_logp;
          return std::exp(lp - old_logp) * (std::exp(-l) - 1 + l);
        },
        pos.z);
    EXPECT_LT(MaxAbs(autograd - fd), 1e-7) << "seed " << seed;
    EXPECT_GT(MaxAbs(autograd), 1e-3);  // not trivially zero
  }
}

TEST(SdlTest, ZeroGapGivesZeroLossAndGradient) {
  LossOptions o;
  o.grpo_coef = 0;
  o.sdl_coef = 1;
  Position pos = MakePosition(5, 1, 4);
  const double logp = pos.logp().item<double>();
  const LossOutput out = SkillSdLoss(Single(pos, logp - 0.5, logp, 1.0), o);  // teacher == student
  EXPECT_NEAR(out.total.item<double>(), 0.0, 1e-15);
  EXPECT_LT(MaxAbs(Grad(out.total, pos.z)), 1e-15);
}

TEST(GrpoTest, GradientMatchesClosedFormInsideTheClip) {
  LossOptions o;
  o.sdl_coef = 0;
  Position pos = MakePosition(6, 4, 5);
  const double logp = pos.logp().item<double>();
  const double old_logp = logp - 0.1;  // r = e^0.1 ≈ 1.105, inside [0.8, 1.28]
  const double adv = 0.7;
  const LossOutput out = SkillSdLoss(Single(pos, old_logp, 0.0, adv), o);
  const torch::Tensor autograd = Grad(out.total, pos.z);
  const torch::Tensor closed = -std::exp(logp - old_logp) * adv * (pos.onehot() - pos.p());
  EXPECT_LT(MaxAbs(autograd - closed), 1e-12);
  const torch::Tensor fd = FiniteDifference(
      [&](const torch::Tensor& z) {
        const double r = std::exp(torch::log_softmax(z, 0)[pos.y].item<double>() - old_logp);
        return -std::min(r * adv, std::clamp(r, 0.8, 1.28) * adv);
      },
      pos.z);
  EXPECT_LT(MaxAbs(autograd - fd), 1e-7);
  EXPECT_EQ(out.clip_fraction, 0.0);
}

TEST(GrpoTest, ClippedBranchHasZeroGradient) {
  LossOptions o;
  o.sdl_coef = 0;
  Position pos = MakePosition(6, 0, 6);
  const double logp = pos.logp().item<double>();
  // Positive advantage with r = e^0.5 > 1 + ε_high, and negative advantage with r = e^-0.5 < 1 − ε_low.
  for (auto [shift, adv] : {std::pair{0.5, 1.0}, std::pair{-0.5, -1.0}}) {
    const LossOutput out = SkillSdLoss(Single(pos, logp - shift, 0.0, adv), o);
    EXPECT_LT(MaxAbs(Grad(out.total, pos.z)), 1e-15);
    EXPECT_EQ(out.clip_fraction, 1.0);
  }
  // The asymmetric bound: r = 1.25 is inside [0.8, 1.28] (clip-higher), so it still has a gradient.
  const LossOutput inside = SkillSdLoss(Single(pos, logp - std::log(1.25), 0.0, 1.0), o);
  EXPECT_GT(MaxAbs(Grad(inside.total, pos.z)), 1e-3);
}

TEST(LossTest, TokenMeanOverMaskedTokensAndTotal) {
  torch::manual_seed(7);
  const torch::Tensor z = torch::randn({4, 5}, kF64).requires_grad_(true);
  const torch::Tensor y = torch::tensor({0, 3, 1, 4});
  const torch::Tensor logp = torch::log_softmax(z, 1).gather(1, y.unsqueeze(1)).squeeze(1);
  LossInputs in;
  in.logprobs = logp;
  in.old_logprobs = logp.detach() + torch::tensor({0.05, -0.1, 0.2, 0.0}, kF64);
  in.teacher_logprobs = torch::tensor({-1.0, -2.0, -0.5, -3.0}, kF64);
  in.advantages = torch::tensor({1.0, -0.5, 0.3, 2.0}, kF64);
  in.mask = torch::tensor({1.0, 1.0, 0.0, 1.0}, kF64);
  LossOptions o;  // defaults: GRPO + 0.001 · SDL
  const LossOutput out = SkillSdLoss(in, o);
  EXPECT_EQ(out.tokens, 3.0);
  // Independent arithmetic over the three masked tokens.
  double grpo = 0, sdl = 0;
  for (int i : {0, 1, 3}) {
    const double lp = logp[i].item<double>(), old = in.old_logprobs[i].item<double>();
    const double a = in.advantages[i].item<double>(), t = in.teacher_logprobs[i].item<double>();
    const double r = std::exp(lp - old);
    grpo += -std::min(r * a, std::clamp(r, 0.8, 1.28) * a);
    sdl += r * (std::exp(t - lp) - 1 + (lp - t));
  }
  EXPECT_NEAR(out.grpo, grpo / 3, 1e-12);
  EXPECT_NEAR(out.sdl, sdl / 3, 1e-12);
  EXPECT_NEAR(out.total.item<double>(), grpo / 3 + 0.001 * sdl / 3, 1e-12);
  // The masked-out token gets no gradient; the others do.
  const torch::Tensor g = Grad(out.total, z);
  EXPECT_EQ(MaxAbs(g[2]), 0.0);
  EXPECT_GT(MaxAbs(g[3]), 0.0);
  // An empty mask is a zero loss, not a NaN.
  in.mask = torch::zeros({4}, kF64);
  EXPECT_EQ(SkillSdLoss(in, o).total.item<double>(), 0.0);
}

TEST(LossTest, ClampsKeepTheLossFinite) {
  LossOptions o;
  o.grpo_coef = 0;
  o.sdl_coef = 1;
  Position pos = MakePosition(3, 0, 8);
  const double logp = pos.logp().item<double>();
  // −ℓ = 40 is clamped to 20; log ρ = 15 is clamped to 10.
  const LossOutput out = SkillSdLoss(Single(pos, logp - 15.0, logp + 40.0, 0.0), o);
  EXPECT_TRUE(std::isfinite(out.total.item<double>()));
  EXPECT_NEAR(out.total.item<double>(), std::exp(10.0) * (std::exp(20.0) - 1.0 - 40.0), 1e-6 * std::exp(30.0));
}

// E_{y ~ π_old}[∇(ρ·k3)] = ∇ KL(π_θ ‖ π_teacher), exactly, by enumerating the vocabulary; the unweighted k3
// gives a different (forward-KL-like) gradient.
TEST(SdlTest, ExpectedGradientIsTheReverseKlGradient) {
  const int64_t vocab = 4;
  LossOptions o;
  o.grpo_coef = 0;
  o.sdl_coef = 1;
  for (bool on_policy : {true, false}) {
    torch::manual_seed(on_policy ? 11 : 12);
    const torch::Tensor z = torch::randn({vocab}, kF64).requires_grad_(true);
    const torch::Tensor z_old = on_policy ? z.detach().clone() : torch::randn({vocab}, kF64);
    const torch::Tensor teacher = torch::log_softmax(torch::randn({vocab}, kF64), 0);
    const torch::Tensor old = torch::log_softmax(z_old, 0);
    torch::Tensor expected_weighted = torch::zeros({vocab}, kF64);
    torch::Tensor expected_plain = torch::zeros({vocab}, kF64);
    for (int64_t y = 0; y < vocab; ++y) {
      const double p_old = std::exp(old[y].item<double>());
      const torch::Tensor logp = torch::log_softmax(z, 0)[y].reshape({1});
      LossInputs in;
      in.logprobs = logp;
      in.old_logprobs = old[y].reshape({1});
      in.teacher_logprobs = teacher[y].reshape({1});
      in.advantages = torch::zeros({1}, kF64);
      in.mask = torch::ones({1}, kF64);
      expected_weighted += p_old * Grad(SkillSdLoss(in, o).total, z);
      const torch::Tensor gap = logp - teacher[y];
      expected_plain += p_old * Grad((torch::exp(-gap) - 1 + gap).sum(), z);
    }
    const torch::Tensor log_p = torch::log_softmax(z, 0);
    const torch::Tensor reverse_kl = (torch::exp(log_p) * (log_p - teacher)).sum();
    const torch::Tensor exact = Grad(reverse_kl, z);
    EXPECT_LT(MaxAbs(expected_weighted - exact), 1e-12) << (on_policy ? "on-policy" : "off-policy");
    EXPECT_GT(MaxAbs(expected_plain - exact), 1e-3) << (on_policy ? "on-policy" : "off-policy");
  }
}

TEST(AdvantageTest, GroupNormalisation) {
  const std::vector<double> a = GroupAdvantages({1, 2, 3, 4}, 1e-6);
  const double std = std::sqrt(1.25);
  EXPECT_NEAR(a[0], -1.5 / (std + 1e-6), 1e-12);
  EXPECT_NEAR(a[3], 1.5 / (std + 1e-6), 1e-12);
  const std::vector<double> s = GroupAdvantages({1, 2, 3, 4}, 1e-6, /*sample_std=*/true);
  EXPECT_NEAR(s[0], -1.5 / (std::sqrt(5.0 / 3.0) + 1e-6), 1e-12);
  for (double v : GroupAdvantages({5, 5, 5}, 1e-6)) EXPECT_EQ(v, 0.0);
  EXPECT_TRUE(GroupAdvantages({}, 1e-6).empty());
}

}  // namespace
}  // namespace skillsd::learner
