// Numerics of the model against independent references and exact properties: a naive float64 reference
// forward (per-head loops, explicit causal mask), KV-cache decoding equals the full forward, scoring does not
// depend on batch padding, sampled log-probs equal scored ones, save -> load is bitwise, bad checkpoints fail.
#include <torch/torch.h>

#include <cmath>
#include <fstream>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/inference.h"
#include "model/model_config.h"
#include "model/transformer.h"

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

TEST(KVCacheTest, RowsJoinAndLeaveIndependently) {
  CausalLM model = RandomModel(TinyConfig(), 3);
  const std::vector<int64_t> a = {4, 8, 15, 16, 23, 42}, b = {7, 1, 9};
  const torch::Tensor full_a = FullLogits(*model, a), full_b = FullLogits(*model, b);
  KVCache cache;
  // Row 0 = a: prefill 3 tokens.
  model->Forward(torch::tensor({a[0], a[1], a[2]}).view({1, 3}), torch::arange(3).view({1, 3}),
                 torch::ones({1, 3}, torch::kBool), &cache);
  // Row 1 = b joins: prefilled in its own cache (with a padded batch of one), appended below.
  KVCache joiner;
  model->Forward(torch::tensor({b[0], b[1], 0L, 0L}).view({1, 4}), torch::tensor({0L, 1L, 0L, 0L}).view({1, 4}),
                 torch::tensor({true, true, false, false}).view({1, 4}), &joiner);
  cache.AppendRows(joiner);
  ASSERT_EQ(cache.rows(), 2);
  // One step for both: a[3] at position 3, b[2] at position 2.
  const torch::Tensor step =
      model->Forward(torch::tensor({a[3], b[2]}).view({2, 1}), torch::tensor({3L, 2L}).view({2, 1}),
                     torch::ones({2, 1}, torch::kBool), &cache);
  EXPECT_LT((step[0][0] - full_a[3]).abs().max().item<double>(), 1e-5);
  EXPECT_LT((step[1][0] - full_b[2]).abs().max().item<double>(), 1e-5);
  // Row 1 leaves; row 0 goes on.
  cache.SelectRows(torch::tensor({0L}));
  cache.Compact();
  const torch::Tensor next = model->Forward(torch::tensor({a[4]}).view({1, 1}), torch::tensor({4L}).view({1, 1}),
                                            torch::ones({1, 1}, torch::kBool), &cache);
  EXPECT_LT((next[0][0] - full_a[4]).abs().max().item<double>(), 1e-5);
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
