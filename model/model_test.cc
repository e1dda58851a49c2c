// Numerics of the model against independent references and exact properties: a naive float64 reference
// forward (per-head loops, explicit causal mask), KV-cache decoding equals the full forward, scoring does not
// depend on batch padding, sampled log-probs equal scored ones, save -> load is bitwise, bad checkpoints fail.
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <set>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/inference.h"
#include "model/model_config.h"
#include "model/transformer.h"
#include "model/vocab_head.h"

namespace skillsd::model {
namespace {

using ::skillsd::testing::StatusIs;
using ::testing::HasSubstr;

ModelConfig TinyConfig(Family family = Family::kQwen3, int64_t kv_heads = 2) {
  ModelConfig c;
  c.family = family;
  c.vocab_size = 50;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = kv_heads;
  c.head_dim = 8;
  c.rope_theta = 10000;
  c.rms_norm_eps = 1e-6;
  c.qk_norm = family == Family::kQwen3;
  c.attention_bias = family == Family::kQwen2;
  c.tie_word_embeddings = family == Family::kQwen2;
  return c;
}

std::string TempDir() {
  char pattern[] = "/tmp/skillsd_model_XXXXXX";
  return mkdtemp(pattern);
}

// ---- An independent reference: float64, one head and one position at a time. -------------------------------
torch::Tensor RefNorm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return w * x / torch::sqrt(x.pow(2).mean(-1, true) + eps);
}

torch::Tensor ReferenceLogits(CausalLMImpl& model, const std::vector<int64_t>& tokens) {
  const ModelConfig& c = model.config();
  TensorMap p;
  for (auto& [name, t] : model.StateDict()) p[name] = t.detach().to(torch::kFloat64);
  const int64_t n = static_cast<int64_t>(tokens.size()), d = c.head_dim;
  torch::Tensor x = p["model.embed_tokens.weight"].index_select(0, torch::tensor(tokens));
  auto rope = [&](torch::Tensor v, int64_t pos) {  // v [d]
    torch::Tensor out = v.clone();
    for (int64_t i = 0; i < d / 2; ++i) {
      const double angle = pos / std::pow(c.rope_theta, 2.0 * i / d);
      const double a = v[i].item<double>(), b = v[i + d / 2].item<double>();
      out[i] = a * std::cos(angle) - b * std::sin(angle);
      out[i + d / 2] = b * std::cos(angle) + a * std::sin(angle);
    }
    return out;
  };
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string pre = absl::StrCat("model.layers.", l, ".");
    const torch::Tensor h = RefNorm(x, p[pre + "input_layernorm.weight"], c.rms_norm_eps);
    auto proj = [&](const std::string& name) {
      torch::Tensor y = torch::matmul(h, p[pre + "self_attn." + name + ".weight"].t());
      if (p.count(pre + "self_attn." + name + ".bias")) y = y + p[pre + "self_attn." + name + ".bias"];
      return y;
    };
    const torch::Tensor q = proj("q_proj"), k = proj("k_proj"), v = proj("v_proj");
    torch::Tensor attn = torch::zeros({n, c.num_attention_heads * d}, torch::kFloat64);
    const int64_t group = c.num_attention_heads / c.num_key_value_heads;
    for (int64_t head = 0; head < c.num_attention_heads; ++head) {
      const int64_t kv = head / group;
      for (int64_t i = 0; i < n; ++i) {
        torch::Tensor qi = q[i].narrow(0, head * d, d);
        if (c.qk_norm) qi = RefNorm(qi, p[pre + "self_attn.q_norm.weight"], c.rms_norm_eps);
        qi = rope(qi, i);
        std::vector<double> scores;
        for (int64_t j = 0; j <= i; ++j) {
          torch::Tensor kj = k[j].narrow(0, kv * d, d);
          if (c.qk_norm) kj = RefNorm(kj, p[pre + "self_attn.k_norm.weight"], c.rms_norm_eps);
          kj = rope(kj, j);
          scores.push_back((qi * kj).sum().item<double>() / std::sqrt(static_cast<double>(d)));
        }
        const double m = *std::max_element(scores.begin(), scores.end());
        double z = 0;
        for (double s : scores) z += std::exp(s - m);
        for (int64_t j = 0; j <= i; ++j) {
          attn[i].narrow(0, head * d, d) += std::exp(scores[j] - m) / z * v[j].narrow(0, kv * d, d);
        }
      }
    }
    x = x + torch::matmul(attn, p[pre + "self_attn.o_proj.weight"].t());
    const torch::Tensor h2 = RefNorm(x, p[pre + "post_attention_layernorm.weight"], c.rms_norm_eps);
    const torch::Tensor gate = torch::matmul(h2, p[pre + "mlp.gate_proj.weight"].t());
    const torch::Tensor up = torch::matmul(h2, p[pre + "mlp.up_proj.weight"].t());
    x = x + torch::matmul(gate * torch::sigmoid(gate) * up, p[pre + "mlp.down_proj.weight"].t());
  }
  x = RefNorm(x, p["model.norm.weight"], c.rms_norm_eps);
  const torch::Tensor head = c.tie_word_embeddings ? p["model.embed_tokens.weight"] : p["lm_head.weight"];
  return torch::matmul(x, head.t());
}

torch::Tensor FullLogits(CausalLMImpl& model, const std::vector<int64_t>& tokens) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  return model.Forward(torch::tensor(tokens).view({1, n}), torch::arange(n).view({1, n}),
                       torch::ones({1, n}, torch::kBool))[0];
}

std::vector<int32_t> Concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class ModelTest : public ::testing::TestWithParam<std::tuple<Family, int64_t>> {};

TEST_P(ModelTest, MatchesTheFloat64Reference) {
  const auto [family, kv_heads] = GetParam();
  CausalLM model = RandomModel(TinyConfig(family, kv_heads), 1);
  // Larger weights than the init so the comparison is not dominated by near-uniform logits.
  {
    torch::NoGradGuard g;
    for (auto& p : model->parameters()) p.mul_(5.0);
  }
  const std::vector<int64_t> tokens = {3, 17, 42, 5, 5, 9, 31};
  const torch::Tensor ours = FullLogits(*model, tokens).to(torch::kFloat64);
  const torch::Tensor ref = ReferenceLogits(*model, tokens);
  EXPECT_LT((ours - ref).abs().max().item<double>(), 1e-4 * (1 + ref.abs().max().item<double>()));
}

INSTANTIATE_TEST_SUITE_P(Families, ModelTest,
                         ::testing::Values(std::make_tuple(Family::kQwen3, 2),  // GQA
                                           std::make_tuple(Family::kQwen3, 4),  // kv heads = heads
                                           std::make_tuple(Family::kQwen2, 1),  // MQA, biases, tied
                                           std::make_tuple(Family::kQwen2, 4)));

TEST(KVCacheTest, IncrementalDecodingEqualsFullForward) {
  CausalLM model = RandomModel(TinyConfig(), 2);
  const std::vector<int64_t> tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  const torch::Tensor full = FullLogits(*model, tokens);
  KVCache cache;
  std::vector<torch::Tensor> steps;
  // Prefill 4 tokens, then one at a time.
  steps.push_back(model->Forward(torch::tensor(std::vector<int64_t>(tokens.begin(), tokens.begin() + 4)).view({1, 4}),
                                 torch::arange(4).view({1, 4}), torch::ones({1, 4}, torch::kBool), &cache)[0]);
  for (int64_t i = 4; i < 11; ++i) {
    steps.push_back(model->Forward(torch::tensor({tokens[i]}).view({1, 1}), torch::tensor({i}).view({1, 1}),
                                   torch::ones({1, 1}, torch::kBool), &cache)[0]);
  }
  EXPECT_LT((torch::cat(steps, 0) - full).abs().max().item<double>(), 1e-5);
}

TEST(KVCacheTest, RowsJoinSwapAndLeaveIndependently) {
  CausalLM model = RandomModel(TinyConfig(), 3);
  const std::vector<int64_t> a = {4, 8, 15, 16, 23, 42}, b = {7, 1, 9};
  const torch::Tensor full_a = FullLogits(*model, a), full_b = FullLogits(*model, b);
  KVCache cache;
  auto one = [](int64_t token) { return torch::tensor({token}).view({1, 1}); };
  const torch::Tensor yes = torch::ones({1, 1}, torch::kBool);
  // Row 0 = a: prefill 3 tokens.
  model->Forward(torch::tensor({a[0], a[1], a[2]}).view({1, 3}), torch::arange(3).view({1, 3}),
                 torch::ones({1, 3}, torch::kBool), &cache);
  const int64_t capacity = cache.slot_capacity();
  // Row 1 = b joins: a right-padded prefill into row 1.
  model->Forward(torch::tensor({b[0], b[1], 0L, 0L}).view({1, 4}), torch::arange(4).view({1, 4}),
                 torch::tensor({true, true, false, false}).view({1, 4}), &cache, /*first_row=*/1);
  ASSERT_EQ(cache.rows(), 2);
  EXPECT_EQ(cache.lengths, (std::vector<int64_t>{3, 2}));
  // One step for both: a[3] at position 3, b[2] at position 2, written in place.
  const torch::Tensor step =
      model->Forward(torch::tensor({a[3], b[2]}).view({2, 1}), torch::tensor({3L, 2L}).view({2, 1}),
                     torch::ones({2, 1}, torch::kBool), &cache);
  EXPECT_LT((step[0][0] - full_a[3]).abs().max().item<double>(), 1e-5);
  EXPECT_LT((step[1][0] - full_b[2]).abs().max().item<double>(), 1e-5);
  // Swapped: a is row 1 and goes on alone there.
  cache.SwapRows(0, 1);
  const torch::Tensor a4 = model->Forward(one(a[4]), torch::tensor({4L}).view({1, 1}), yes, &cache, 1);
  EXPECT_LT((a4[0][0] - full_a[4]).abs().max().item<double>(), 1e-5);
  // b (row 0) leaves; a moves into row 0 and goes on.
  cache.RemoveRow(0);
  ASSERT_EQ(cache.rows(), 1);
  const torch::Tensor a5 = model->Forward(one(a[5]), torch::tensor({5L}).view({1, 1}), yes, &cache);
  EXPECT_LT((a5[0][0] - full_a[5]).abs().max().item<double>(), 1e-5);
  EXPECT_EQ(cache.lengths, (std::vector<int64_t>{6}));
  EXPECT_GE(cache.slot_capacity(), capacity);
}

TEST(KVCacheTest, GrowsGeometricallyAndKeepsItsContents) {
  CausalLM model = RandomModel(TinyConfig(), 2);
  std::vector<int64_t> tokens;
  for (int64_t i = 0; i < 40; ++i) tokens.push_back((i * 7) % 50);
  const torch::Tensor full = FullLogits(*model, tokens);
  KVCache cache;
  std::vector<int64_t> capacities;
  for (int64_t i = 0; i < 40; ++i) {
    const torch::Tensor step = model->Forward(torch::tensor({tokens[i]}).view({1, 1}), torch::tensor({i}).view({1, 1}),
                                              torch::ones({1, 1}, torch::kBool), &cache);
    EXPECT_LT((step[0][0] - full[i]).abs().max().item<double>(), 1e-5) << "token " << i;
    if (capacities.empty() || capacities.back() != cache.slot_capacity()) capacities.push_back(cache.slot_capacity());
  }
  // 40 appends, 7 allocations (1, 2, 4, ..., 64): no per-step concatenation.
  EXPECT_EQ(capacities, (std::vector<int64_t>{1, 2, 4, 8, 16, 32, 64}));
}

TEST(ScoringTest, BatchedEqualsUnbatchedAndIgnoresPadding) {
  CausalLM model = RandomModel(TinyConfig(), 4);
  const std::vector<ScoreItem> items = {{{1, 2, 3}, {4, 5}}, {{9}, {8, 7, 6, 5, 4}}, {{10, 11, 12, 13, 14, 15}, {16}}};
  ASSERT_OK_AND_ASSIGN(ScoredBatch batch, ScoreBatch(*model, items));
  ASSERT_EQ(batch.logprobs.size(1), 5);
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(ScoredBatch alone, ScoreBatch(*model, {items[i]}));
    const int64_t n = static_cast<int64_t>(items[i].continuation.size());
    EXPECT_LT((batch.logprobs[i].narrow(0, 0, n) - alone.logprobs[0]).abs().max().item<double>(), 1e-5);
    EXPECT_EQ(batch.mask[i].sum().item<int64_t>(), n);
    // Independent check from the full forward.
    std::vector<int64_t> seq(items[i].context.begin(), items[i].context.end());
    seq.insert(seq.end(), items[i].continuation.begin(), items[i].continuation.end());
    const torch::Tensor logp = torch::log_softmax(FullLogits(*model, seq), -1);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t pos = static_cast<int64_t>(items[i].context.size()) + j - 1;
      EXPECT_NEAR(batch.logprobs[i][j].item<double>(), logp[pos][items[i].continuation[j]].item<double>(), 1e-5);
    }
  }
}

TEST(ScoringTest, GradientsFlowAndBadIdsAreRejected) {
  CausalLM model = RandomModel(TinyConfig(), 5);
  ASSERT_OK_AND_ASSIGN(ScoredBatch batch, ScoreBatch(*model, {{{1, 2}, {3, 4}}}));
  batch.logprobs.sum().backward();
  EXPECT_GT(model->model->embed_tokens->weight.grad().abs().sum().item<double>(), 0);
  EXPECT_THAT(ScoreBatch(*model, {{{1, 50}, {3}}}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("50")));
  EXPECT_THAT(ScoreBatch(*model, {{{}, {3}}}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(ScoreBatch(*model, {{{1}, {-1}}}), StatusIs(absl::StatusCode::kInvalidArgument));
}

// The chunked LM head against plain autograd through a full float64 log-softmax: values, entropy, top-k and both
// gradients, with a chunk that does not divide the number of positions, at two temperatures.
TEST(VocabHeadTest, ChunkedEqualsFullLogSoftmaxWithGradients) {
  torch::manual_seed(3);
  const int64_t n = 37, h = 16, v = 53;
  for (double temperature : {1.0, 0.7}) {
    const torch::Tensor hidden0 = torch::randn({n, h}), weight0 = torch::randn({v, h}) * 0.5;
    const torch::Tensor targets = torch::randint(v, {n}, torch::kInt64);
    const torch::Tensor a = torch::randn({n}), c = torch::randn({n});
    // Chunked.
    torch::Tensor hidden = hidden0.clone().requires_grad_(true), weight = weight0.clone().requires_grad_(true);
    VocabHeadOptions options;
    options.temperature = temperature;
    options.with_entropy = true;
    options.top_k = 4;
    options.probe_ids = {7, 0, 52};
    options.chunk_rows = 5;
    const VocabHeadOutput out = VocabHead(hidden, weight, targets, options);
    ((out.logprobs * a).sum() + (out.entropy * c).sum()).backward();
    // Reference.
    torch::Tensor rh = hidden0.to(torch::kFloat64).requires_grad_(true);
    torch::Tensor rw = weight0.to(torch::kFloat64).requires_grad_(true);
    const torch::Tensor logp = torch::log_softmax(torch::matmul(rh, rw.t()) / temperature, -1);
    const torch::Tensor ref_lp = logp.gather(1, targets.unsqueeze(1)).squeeze(1);
    const torch::Tensor ref_ent = -(logp.exp() * logp).sum(-1);
    ((ref_lp * a.to(torch::kFloat64)).sum() + (ref_ent * c.to(torch::kFloat64)).sum()).backward();
    EXPECT_LT((out.logprobs.to(torch::kFloat64) - ref_lp).abs().max().item<double>(), 1e-4);
    EXPECT_LT((out.entropy.to(torch::kFloat64) - ref_ent).abs().max().item<double>(), 1e-4);
    EXPECT_LT((hidden.grad().to(torch::kFloat64) - rh.grad()).abs().max().item<double>(), 1e-4);
    EXPECT_LT((weight.grad().to(torch::kFloat64) - rw.grad()).abs().max().item<double>(), 1e-4);
    const auto top = logp.topk(4, -1);
    EXPECT_TRUE(torch::equal(out.top_k_ids, std::get<1>(top)));
    EXPECT_LT((out.top_k_logprobs.to(torch::kFloat64) - std::get<0>(top)).abs().max().item<double>(), 1e-4);
    const torch::Tensor ref_probes = logp.index_select(1, torch::tensor(std::vector<int64_t>{7, 0, 52}));
    EXPECT_LT((out.probe_logprobs.to(torch::kFloat64) - ref_probes).abs().max().item<double>(), 1e-4);
  }
}

TEST(ScoringTest, ScoredSubsetEqualsFullScoring) {
  CausalLM model = RandomModel(TinyConfig(), 9);
  ScoreItem all{{1, 2, 3}, {4, 5, 6, 7, 8}, std::nullopt};
  ScoreItem some = all;
  some.scored = std::vector<int64_t>{1, 3, 4};
  ASSERT_OK_AND_ASSIGN(ScoredBatch full, ScoreBatch(*model, {all}, 0.8, 3, true));
  ASSERT_OK_AND_ASSIGN(ScoredBatch part, ScoreBatch(*model, {some, all}, 0.8, 3, true));
  EXPECT_EQ(part.mask[0].sum().item<int64_t>(), 3);
  for (int64_t j = 0; j < 5; ++j) {
    const bool scored = j == 1 || j == 3 || j == 4;
    EXPECT_EQ(part.mask[0][j].item<bool>(), scored);
    EXPECT_NEAR(part.logprobs[0][j].item<double>(), scored ? full.logprobs[0][j].item<double>() : 0.0, 1e-5);
    EXPECT_NEAR(part.logprobs[1][j].item<double>(), full.logprobs[0][j].item<double>(), 1e-5);
    EXPECT_NEAR(part.entropy[0][j].item<double>(), scored ? full.entropy[0][j].item<double>() : 0.0, 1e-5);
    if (scored) EXPECT_TRUE(torch::equal(part.top_k_ids[0][j], full.top_k_ids[0][j]));
  }
  some.scored = std::vector<int64_t>{};  // nothing to score
  ASSERT_OK_AND_ASSIGN(ScoredBatch nothing, ScoreBatch(*model, {some}));
  EXPECT_EQ(nothing.mask.sum().item<int64_t>(), 0);
  some.scored = std::vector<int64_t>{3, 1};
  EXPECT_THAT(ScoreBatch(*model, {some}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ascending")));
  some.scored = std::vector<int64_t>{5};
  EXPECT_THAT(ScoreBatch(*model, {some}), StatusIs(absl::StatusCode::kInvalidArgument));
}

// The teacher's path: items sharing a long context prefix are scored over one prefill of it, with the same
// log-probs, entropies and top-k as when every item runs its whole sequence; items sharing nothing are untouched.
TEST(ScoringTest, SharedPrefixScoringEqualsPlainScoring) {
  CausalLM model = RandomModel(TinyConfig(), 10);
  const std::vector<int32_t> prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  std::vector<ScoreItem> items = {
      {Concat(prompt, {11, 12}), {13, 14, 15}, std::nullopt},
      {{40, 41}, {42, 43}, std::nullopt},  // shares nothing
      {Concat(prompt, {11, 20}), {21}, std::nullopt},
      {Concat(prompt, {30}), {31, 32, 33, 34}, std::vector<int64_t>{0, 2}},
      {prompt, {11, 12}, std::nullopt},  // the whole prompt as context: the prefix must leave it a token
  };
  ScoreOptions plain;
  plain.top_k = 3;
  plain.with_entropy = true;
  plain.probe_ids = {13, 31, 2};
  ScoreOptions shared = plain;
  shared.min_shared_prefix = 4;
  c10::InferenceMode guard;
  ASSERT_OK_AND_ASSIGN(ScoredBatch a, ScoreBatch(*model, items, plain));
  ASSERT_OK_AND_ASSIGN(ScoredBatch b, ScoreBatch(*model, items, shared));
  // Nothing to share, and the items' sorted order is not theirs: the rows stay in the items' order.
  const std::vector<ScoreItem> unshared = {items[1], items[0]};
  ASSERT_OK_AND_ASSIGN(ScoredBatch c, ScoreBatch(*model, unshared, ScoreOptions{1.0, 0, false, 100}));
  EXPECT_LT((c.logprobs[0].narrow(0, 0, 2) - a.logprobs[1].narrow(0, 0, 2)).abs().max().item<double>(), 1e-5);
  EXPECT_LT((c.logprobs[1].narrow(0, 0, 3) - a.logprobs[0].narrow(0, 0, 3)).abs().max().item<double>(), 1e-5);
  // Every item alone: 15 + 4 + 13 + 15 + 12 tokens; with the 9-token prefix of the four prompted items once.
  EXPECT_EQ(a.model_tokens, 59);
  EXPECT_EQ(b.model_tokens, 59 - 3 * 9);
  EXPECT_TRUE(torch::equal(a.mask, b.mask));
  EXPECT_LT((a.logprobs - b.logprobs).abs().max().item<double>(), 1e-5);
  EXPECT_LT((a.entropy - b.entropy).abs().max().item<double>(), 1e-5);
  EXPECT_TRUE(torch::equal(a.top_k_ids, b.top_k_ids));
  EXPECT_LT((a.top_k_logprobs - b.top_k_logprobs).abs().max().item<double>(), 1e-5);
  EXPECT_LT((a.probe_logprobs - b.probe_logprobs).abs().max().item<double>(), 1e-5);
  // A probe of the token that follows is that token's log-prob (item 0's first, item 3's first).
  EXPECT_NEAR(b.probe_logprobs[0][0][0].item<double>(), b.logprobs[0][0].item<double>(), 1e-5);
  EXPECT_NEAR(b.probe_logprobs[3][0][1].item<double>(), b.logprobs[3][0].item<double>(), 1e-5);
  plain.probe_ids = {64};
  EXPECT_THAT(ScoreBatch(*model, items, plain), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("probe")));
}

TEST(SamplingTest, SampledLogprobsEqualScoredLogprobs) {
  CausalLM model = RandomModel(TinyConfig(), 6);
  SamplingOptions options;
  options.max_new_tokens = 12;
  options.seed = 7;
  options.temperature = 0.7;
  const std::vector<std::vector<int32_t>> prompts = {{1, 2, 3}, {4}, {5, 6, 7, 8, 9}};
  ASSERT_OK_AND_ASSIGN(std::vector<Generation> gens, Generate(*model, prompts, options));
  ASSERT_EQ(gens.size(), 3u);
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_EQ(gens[i].tokens.size(), 12u);
    ASSERT_OK_AND_ASSIGN(ScoredBatch s, ScoreBatch(*model, {{prompts[i], gens[i].tokens}}, options.temperature));
    for (size_t j = 0; j < gens[i].tokens.size(); ++j) {
      EXPECT_NEAR(gens[i].logprobs[j], s.logprobs[0][j].item<float>(), 1e-4);
    }
  }
  // Same seed, same tokens.
  ASSERT_OK_AND_ASSIGN(std::vector<Generation> again, Generate(*model, prompts, options));
  EXPECT_EQ(again[2].tokens, gens[2].tokens);
}

// Probes read the same tempered distribution the token was sampled from: with every id probed, the sampled
// token's probe is its behaviour log-prob and the probes normalise.
TEST(SamplingTest, ProbesAreTheSamplingDistribution) {
  CausalLM model = RandomModel(TinyConfig(), 12);
  SamplingOptions options;
  options.max_new_tokens = 6;
  options.seed = 3;
  options.temperature = 0.7;
  for (int32_t id = 0; id < static_cast<int32_t>(TinyConfig().vocab_size); ++id) options.probe_tokens.push_back(id);
  DecodeBatch batch(model.get(), options);
  ASSERT_OK(batch.Add({{1, 2, 3}, {4, 5}}).status());
  int steps = 0;
  while (batch.live() > 0) {
    for (const SampledToken& t : batch.Step()) {
      ASSERT_EQ(t.probe_logprobs.size(), options.probe_tokens.size());
      EXPECT_NEAR(t.probe_logprobs[static_cast<size_t>(t.token)], t.logprob, 1e-5);
      double mass = 0;
      for (float lp : t.probe_logprobs) mass += std::exp(lp);
      EXPECT_NEAR(mass, 1.0, 1e-4);
      ++steps;
    }
  }
  EXPECT_EQ(steps, 12);
  options.probe_tokens = {static_cast<int32_t>(TinyConfig().vocab_size)};
  DecodeBatch bad(model.get(), options);
  EXPECT_THAT(bad.Add({{1}}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("probe")));
}

TEST(SamplingTest, StopTokensTopKAndJoining) {
  CausalLM model = RandomModel(TinyConfig(), 8);
  SamplingOptions options;
  options.max_new_tokens = 50;
  options.top_k = 1;  // greedy
  ASSERT_OK_AND_ASSIGN(std::vector<Generation> greedy, Generate(*model, {{1, 2, 3}}, options));
  // Greedy log-probs are 0 under the truncated distribution.
  for (float lp : greedy[0].logprobs) EXPECT_NEAR(lp, 0.0, 1e-6);
  // Stop at the third greedy token.
  options.stop_tokens = {greedy[0].tokens[2]};
  ASSERT_OK_AND_ASSIGN(std::vector<Generation> stopped, Generate(*model, {{1, 2, 3}}, options));
  EXPECT_LE(stopped[0].tokens.size(), 3u);
  EXPECT_EQ(stopped[0].tokens.back(), greedy[0].tokens[2]);
  // A sequence joining mid-way decodes exactly as it would alone (greedy).
  options.stop_tokens.clear();
  options.max_new_tokens = 6;
  DecodeBatch batch(model.get(), options);
  ASSERT_OK_AND_ASSIGN(auto first, batch.Add({{1, 2, 3}}));
  batch.Step();
  batch.Step();
  ASSERT_OK_AND_ASSIGN(auto second, batch.Add({{9, 8}}));
  std::vector<int32_t> joined;
  while (batch.live() > 0) {
    for (const SampledToken& t : batch.Step()) {
      if (t.sequence == second[0]) joined.push_back(t.token);
    }
  }
  ASSERT_OK_AND_ASSIGN(std::vector<Generation> alone, Generate(*model, {{9, 8}}, options));
  EXPECT_EQ(joined, alone[0].tokens);
  EXPECT_THAT(batch.Add({{}}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(batch.Add({{1, 99}}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(DecodeBatchTest, SharedPrefixesAndRepeatsDecodeAsAlone) {
  CausalLM model = RandomModel(TinyConfig(), 11);
  SamplingOptions options;
  options.max_new_tokens = 5;
  options.top_k = 1;  // greedy: the same tokens whatever the batch
  options.min_shared_prefix = 4;
  const std::vector<int32_t> system = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<std::vector<int32_t>> prompts = {Concat(system, {10, 11}), Concat(system, {12}),
                                                     Concat(system, {10, 11}), Concat(system, {13, 14, 15})};
  DecodeBatch batch(model.get(), options);
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, batch.Add(prompts));
  ASSERT_EQ(ids, (std::vector<int64_t>{0, 1, 2, 3}));
  // The 8-token prefix once, then each distinct prompt's own tokens; the repeat copies the first's cache.
  EXPECT_EQ(batch.prefilled_tokens(), 8 + 2 + 1 + 3);
  EXPECT_EQ(batch.prompt_tokens(), 10 + 9 + 10 + 11);
  std::vector<std::vector<int32_t>> tokens(4);
  std::vector<std::vector<float>> logprobs(4);
  while (batch.live() > 0) {
    for (const SampledToken& t : batch.Step()) {
      tokens[t.sequence].push_back(t.token);
      logprobs[t.sequence].push_back(t.logprob);
    }
  }
  SamplingOptions alone = options;
  alone.min_shared_prefix = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(std::vector<Generation> ref, Generate(*model, {prompts[i]}, alone));
    EXPECT_EQ(tokens[i], ref[0].tokens) << "prompt " << i;
  }
  // Sampled from the full distribution, rows that shared a prefix or a repeat's cache have behaviour log-probs
  // equal to the scored ones.
  options.top_k = 0;
  options.seed = 3;
  DecodeBatch sampled(model.get(), options);
  ASSERT_OK_AND_ASSIGN(ids, sampled.Add(prompts));
  std::vector<std::vector<int32_t>> seq(4);
  std::vector<std::vector<float>> lp(4);
  while (sampled.live() > 0) {
    for (const SampledToken& t : sampled.Step()) {
      seq[t.sequence - ids[0]].push_back(t.token);
      lp[t.sequence - ids[0]].push_back(t.logprob);
    }
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(ScoredBatch s, ScoreBatch(*model, {{prompts[i], seq[i]}}));
    for (size_t j = 0; j < seq[i].size(); ++j) EXPECT_NEAR(lp[i][j], s.logprobs[0][j].item<float>(), 1e-4);
  }
  // A later Add starting with the kept prefix prefills only its own tokens.
  const int64_t before = batch.prefilled_tokens();
  ASSERT_OK(batch.Add({Concat(system, {16, 17})}).status());
  EXPECT_EQ(batch.prefilled_tokens() - before, 2);
}

TEST(DecodeBatchTest, ExtendPrefillsOnlyTheNewTokensAndEqualsAFreshPrompt) {
  CausalLM model = RandomModel(TinyConfig(), 12);
  SamplingOptions options;
  options.max_new_tokens = 3;
  options.top_k = 1;
  options.keep_finished = true;
  const std::vector<int32_t> prompt = {3, 1, 4, 1, 5};
  DecodeBatch batch(model.get(), options);
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, batch.Add({prompt, {9, 2, 6}}));
  std::vector<int32_t> first;
  while (batch.live() > 0) {
    for (const SampledToken& t : batch.Step()) {
      if (t.sequence == ids[0]) first.push_back(t.token);
    }
  }
  ASSERT_EQ(first.size(), 3u);
  ASSERT_NE(batch.Tokens(ids[0]), nullptr);
  EXPECT_EQ(*batch.Tokens(ids[0]), Concat(prompt, first));                                    // paused, not gone
  EXPECT_THAT(batch.Extend({ids[0]}, {{99}}), StatusIs(absl::StatusCode::kInvalidArgument));  // out of vocabulary
  EXPECT_THAT(batch.Extend({42}, {{1}}), StatusIs(absl::StatusCode::kInvalidArgument));       // unknown
  const int64_t before = batch.prefilled_tokens();
  ASSERT_OK(batch.Extend({ids[0]}, {{20, 21}}));
  EXPECT_EQ(batch.prefilled_tokens() - before, 3);  // the last sampled token and the two new ones
  EXPECT_THAT(batch.Extend({ids[0]}, {{1}}), StatusIs(absl::StatusCode::kInvalidArgument));  // decoding
  std::vector<int32_t> second;
  while (batch.live() > 0) {
    for (const SampledToken& t : batch.Step()) second.push_back(t.token);
  }
  ASSERT_OK_AND_ASSIGN(std::vector<Generation> fresh,
                       Generate(*model, {Concat(Concat(prompt, first), {20, 21})}, options));
  EXPECT_EQ(second, fresh[0].tokens);
  batch.Remove(ids[0]);
  batch.Remove(ids[1]);
  EXPECT_EQ(batch.Tokens(ids[0]), nullptr);
}

// Nucleus sampling on the device: every token comes from the smallest most-likely set whose mass reaches top_p,
// and its log-prob is renormalised over that set (checked against the full forward's distribution).
TEST(SamplingTest, TopPSamplesTheNucleusWithRenormalisedLogprobs) {
  CausalLM model = RandomModel(TinyConfig(), 13);
  {
    torch::NoGradGuard g;
    for (auto& p : model->parameters()) p.mul_(3.0);  // a peaked distribution
  }
  const std::vector<int32_t> prompt = {2, 7, 1, 8};
  const torch::Tensor p =
      torch::softmax(FullLogits(*model, std::vector<int64_t>(prompt.begin(), prompt.end()))[3].to(torch::kFloat64), -1);
  const auto [sorted, order] = p.sort(-1, true);
  double kept = 0;
  std::set<int32_t> nucleus;
  for (int64_t i = 0; i < p.size(0) && kept < 0.6; ++i) {
    kept += sorted[i].item<double>();
    nucleus.insert(static_cast<int32_t>(order[i].item<int64_t>()));
  }
  ASSERT_GT(nucleus.size(), 1u);
  SamplingOptions options;
  options.top_p = 0.6;
  options.max_new_tokens = 1;
  options.seed = 5;
  DecodeBatch batch(model.get(), options);
  ASSERT_OK(batch.Add(std::vector<std::vector<int32_t>>(200, prompt)).status());
  std::set<int32_t> seen;
  for (const SampledToken& t : batch.Step()) {
    ASSERT_TRUE(nucleus.count(t.token)) << t.token;
    EXPECT_NEAR(t.logprob, std::log(p[t.token].item<double>() / kept), 1e-4);
    seen.insert(t.token);
  }
  EXPECT_GT(seen.size(), 1u);
}

TEST(CheckpointTest, SaveLoadIsBitwise) {
  for (torch::ScalarType dtype : {torch::kFloat32, torch::kBFloat16}) {
    CausalLM model = RandomModel(TinyConfig(), 9);
    model->to(dtype);
    const std::string dir = TempDir();
    ASSERT_OK(SaveModel(model, dir));
    ASSERT_OK_AND_ASSIGN(CausalLM loaded, LoadModel(dir, torch::kCPU, dtype));
    const TensorMap a = model->StateDict(), b = loaded->StateDict();
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, t] : a) {
      ASSERT_EQ(b.count(name), 1u) << name;
      EXPECT_TRUE(torch::equal(t, b.at(name))) << name;
    }
    ASSERT_OK_AND_ASSIGN(TensorMap raw, ReadSafetensors(dir + "/model.safetensors"));
    EXPECT_EQ(raw.begin()->second.scalar_type(), dtype);
  }
}

TEST(CheckpointTest, ShardedCheckpointsLoad) {
  CausalLM model = RandomModel(TinyConfig(), 11);
  const std::string dir = TempDir();
  ASSERT_OK(SaveModel(model, dir));
  ASSERT_EQ(::unlink((dir + "/model.safetensors").c_str()), 0);
  // Split the tensors over two shards and list them in model.safetensors.index.json, as Hugging Face does.
  TensorMap first, second;
  std::string weight_map;
  int i = 0;
  for (const auto& [name, tensor] : model->StateDict()) {
    const bool one = i++ % 2 == 0;
    (one ? first : second)[name] = tensor;
    absl::StrAppend(&weight_map, weight_map.empty() ? "" : ", ", "\"", name, "\": \"model-0000", one ? 1 : 2,
                    "-of-00002.safetensors\"");
  }
  ASSERT_OK(WriteSafetensors(dir + "/model-00001-of-00002.safetensors", first));
  ASSERT_OK(WriteSafetensors(dir + "/model-00002-of-00002.safetensors", second));
  ASSERT_OK(WriteFileAtomically(dir + "/model.safetensors.index.json",
                                absl::StrCat("{\"metadata\": {}, \"weight_map\": {", weight_map, "}}")));
  ASSERT_OK_AND_ASSIGN(CausalLM loaded, LoadModel(dir));
  for (const auto& [name, t] : model->StateDict()) EXPECT_TRUE(torch::equal(t, loaded->StateDict().at(name))) << name;
  // A tensor listed for the wrong shard, and a listed tensor that no shard holds, are errors.
  ASSERT_OK(WriteFileAtomically(
      dir + "/model.safetensors.index.json",
      absl::StrCat("{\"weight_map\": {", weight_map, ", \"extra.weight\": \"model-00001-of-00002.safetensors\"}}")));
  EXPECT_THAT(LoadModel(dir), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("extra.weight")));
}

TEST(CheckpointTest, BadCheckpointsAreClearErrors) {
  CausalLM model = RandomModel(TinyConfig(), 10);
  const std::string dir = TempDir();
  ASSERT_OK(SaveModel(model, dir));
  TensorMap weights = model->StateDict();

  TensorMap missing = weights;
  missing.erase("model.norm.weight");
  EXPECT_THAT(model->LoadStateDict(missing),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing tensor 'model.norm.weight'")));
  TensorMap extra = weights;
  extra["model.extra"] = torch::zeros({1});
  EXPECT_THAT(model->LoadStateDict(extra), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unexpected")));
  TensorMap misshaped = weights;
  misshaped["model.norm.weight"] = torch::zeros({31});
  EXPECT_THAT(model->LoadStateDict(misshaped), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shape")));

  // Truncated file.
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFile(dir + "/model.safetensors"));
  ASSERT_OK(WriteFileAtomically(dir + "/model.safetensors", bytes.substr(0, bytes.size() - 100)));
  EXPECT_THAT(LoadModel(dir), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("truncated")));
  // Garbage header.
  std::string garbage = bytes;
  garbage.replace(8, 10, "xxxxxxxxxx");
  ASSERT_OK(WriteFileAtomically(dir + "/model.safetensors", garbage));
  EXPECT_THAT(LoadModel(dir), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JSON")));
  // Header length beyond the file.
  std::string long_header = bytes;
  long_header[7] = 0x7f;
  ASSERT_OK(WriteFileAtomically(dir + "/model.safetensors", long_header));
  EXPECT_THAT(LoadModel(dir), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("header length")));
  // Unsupported architecture.
  ASSERT_OK(WriteFileAtomically(dir + "/config.json", "{\"architectures\": [\"LlamaForCausalLM\"]}"));
  EXPECT_THAT(LoadModel(dir), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("LlamaForCausalLM")));
  EXPECT_THAT(LoadModel("/nonexistent"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(SafetensorsHeaderTest, ValidatesEntries) {
  EXPECT_OK(
      ParseSafetensorsHeader(R"({"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}})", 24).status());
  EXPECT_THAT(ParseSafetensorsHeader(R"({"a": {"dtype": "I8", "shape": [1], "data_offsets": [0, 1]}})", 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported dtype")));
  EXPECT_THAT(ParseSafetensorsHeader(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", 8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs 8")));
  EXPECT_THAT(ParseSafetensorsHeader(R"({"a": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},
                                         "b": {"dtype": "F16", "shape": [2], "data_offsets": [2, 6]}})",
                                     8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("overlap")));
  EXPECT_THAT(ParseSafetensorsHeader(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSafetensorsHeader(R"({"__metadata__": {"x": 1}})", 0), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ModelConfigTest, ParsesQwen3AndRoundTrips) {
  const std::string qwen3 = R"({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 151936,
    "hidden_size": 2560, "intermediate_size": 9728, "num_hidden_layers": 36, "num_attention_heads": 32,
    "num_key_value_heads": 8, "head_dim": 128, "hidden_act": "silu", "rope_theta": 5000000,
    "rms_norm_eps": 1e-06, "max_position_embeddings": 262144, "tie_word_embeddings": true,
    "attention_bias": false, "torch_dtype": "bfloat16", "rope_scaling": null, "use_sliding_window": false,
    "bos_token_id": 151643, "eos_token_id": 151645})";
  ASSERT_OK_AND_ASSIGN(ModelConfig c, ParseModelConfig(qwen3));
  EXPECT_EQ(c.family, Family::kQwen3);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_NEAR(c.NumParameters() / 1e9, 4.02, 0.01);  // Qwen3-4B
  ASSERT_OK_AND_ASSIGN(ModelConfig again, ParseModelConfig(ToJson(c)));
  EXPECT_EQ(ToJson(again), ToJson(c));
}

TEST(ModelConfigTest, RejectsWhatWeDoNotSupport) {
  EXPECT_THAT(ParseModelConfig("{\"architectures\": [\"Qwen3ForCausalLM\"]}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vocab_size: missing")));
  const std::string base = R"("architectures": ["Qwen2ForCausalLM"], "vocab_size": 10, "hidden_size": 8,
      "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2)";
  EXPECT_OK(ParseModelConfig("{" + base + "}").status());
  EXPECT_THAT(ParseModelConfig("{" + base + ", \"hidden_act\": \"gelu\"}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hidden_act")));
  EXPECT_THAT(ParseModelConfig("{" + base + ", \"rope_scaling\": {\"type\": \"yarn\"}}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rope_scaling")));
  ASSERT_OK_AND_ASSIGN(ModelConfig v5, ParseModelConfig("{" + base +
                                                        ", \"rope_parameters\": {\"rope_type\": \"default\", "
                                                        "\"rope_theta\": 5000.0}}"));
  EXPECT_DOUBLE_EQ(v5.rope_theta, 5000.0);
  EXPECT_THAT(ParseModelConfig("{" + base + ", \"layer_types\": [\"sliding_attention\"]}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("layer_types")));
  EXPECT_THAT(ParseModelConfig("{" + base + ", \"num_key_value_heads\": 3}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_key_value_heads")));
  EXPECT_THAT(ParseModelConfig("{" + base + ", \"use_sliding_window\": true}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sliding")));
  EXPECT_THAT(ParseModelConfig("{" + base + ", \"vocab_size\": \"ten\"}"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseModelConfig("[]"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace skillsd::model

int main(int argc, char** argv) {
  torch::set_num_threads(1);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
