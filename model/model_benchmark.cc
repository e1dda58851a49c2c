// Speed of the model on this machine, as ratios to the GEMM peak measured in the same run (the machine is
// shared and noisy, so absolute figures drift; same-run ratios do not):
//   - fp32 (and bf16) GEMM peak: the best of square matmuls;
//   - scoring (prefill) tokens/s and achieved GFLOP/s, as a fraction of the fp32 peak;
//   - training forward + backward tokens/s and its fraction;
//   - KV-cache decode tokens/s at batch 1, 8 and 32;
//   - tokenizer MB/s (the Qwen3 tokenizer when SKILLSD_QWEN3_TOKENIZER points to it, else the tiny one).
//   build/bin/model_benchmark [--threads N]
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <iomanip>
#include <iostream>
#include <thread>

#include "core/file_util.h"
#include "model/inference.h"
#include "model/tokenizer.h"
#include "model/transformer.h"

namespace {

using namespace skillsd::model;
using Clock = std::chrono::steady_clock;

// Median-free but robust enough: runs fn until `min_seconds` passed (after one warm-up); returns seconds/call.
double TimePerCall(const std::function<void()>& fn, double min_seconds = 1.0) {
  fn();
  int calls = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  while (elapsed < min_seconds) {
    fn();
    ++calls;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return elapsed / calls;
}

double GemmPeak(torch::ScalarType dtype) {
  double best = 0;
  for (int64_t n : {256, 512, 1024, 2048}) {
    const torch::Tensor a = torch::randn({n, n}).to(dtype), b = torch::randn({n, n}).to(dtype);
    const double s = TimePerCall([&] { torch::matmul(a, b); }, 0.5);
    best = std::max(best, 2.0 * n * n * n / s / 1e9);
  }
  return best;
}

ModelConfig Config(int64_t hidden, int64_t layers, int64_t heads, int64_t kv_heads, int64_t vocab) {
  ModelConfig c;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.intermediate_size = 3 * hidden;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.rope_theta = 10000;
  c.tie_word_embeddings = true;
  return c;
}

// Matmul FLOPs of one token's forward with `context` tokens before it on average.
double FlopsPerToken(const ModelConfig& c, double context) {
  // With tied embeddings NumParameters counts the embedding once, which is exactly the LM head's matmul (the
  // lookup itself costs no FLOPs); norms are negligible.
  const double matmul_params = static_cast<double>(c.NumParameters());
  const double attention = 4.0 * c.num_hidden_layers * c.num_attention_heads * c.head_dim * context;
  return 2.0 * matmul_params + attention;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--threads") threads = std::atoi(argv[i + 1]);
  }
  torch::set_num_threads(threads);
  std::cout << std::fixed << std::setprecision(1) << "threads: " << threads << "\n";
  const double peak = GemmPeak(torch::kFloat32);
  const double peak_bf16 = GemmPeak(torch::kBFloat16);
  std::cout << "GEMM peak fp32: " << peak << " GFLOP/s, bf16: " << peak_bf16 << " GFLOP/s\n";

  struct Size {
    const char* name;
    ModelConfig config;
  };
  const Size sizes[] = {{"tiny (h128 L3)", Config(128, 3, 4, 2, 387)},
                        {"small (h256 L4)", Config(256, 4, 8, 4, 387)},
                        {"medium (h512 L4)", Config(512, 4, 8, 4, 387)}};
  const int64_t batch = 16, seq = 128;
  for (const Size& size : sizes) {
    CausalLM model = RandomModel(size.config, 1);
    std::vector<ScoreItem> items;
    for (int64_t b = 0; b < batch; ++b) {
      ScoreItem item;
      for (int64_t t = 0; t < seq / 2; ++t) item.context.push_back(static_cast<int32_t>((b * 7 + t) % 300));
      for (int64_t t = 0; t < seq / 2; ++t) item.continuation.push_back(static_cast<int32_t>((b * 3 + t) % 300));
      items.push_back(item);
    }
    const double flops = FlopsPerToken(size.config, seq / 2.0);
    double score_s;
    {
      c10::InferenceMode guard;
      score_s = TimePerCall([&] { (void)ScoreBatch(*model, items); });
    }
    const double train_s = TimePerCall([&] {
      auto scored = ScoreBatch(*model, items);
      scored->logprobs.sum().backward();
      model->zero_grad();
    });
    const double tokens = static_cast<double>(batch * seq);
    std::cout << size.name << ", " << size.config.NumParameters() / 1e6 << " M params, batch " << batch << " x " << seq
              << " tokens:\n"
              << "  scoring:  " << tokens / score_s << " tokens/s, " << tokens * flops / score_s / 1e9
              << " GFLOP/s = " << 100.0 * tokens * flops / score_s / 1e9 / peak << "% of fp32 peak\n"
              << "  training: " << tokens / train_s << " tokens/s (forward + backward), "
              << 3.0 * tokens * flops / train_s / 1e9
              << " GFLOP/s = " << 100.0 * 3.0 * tokens * flops / train_s / 1e9 / peak << "% of fp32 peak\n";
    {
      CausalLM bf16 = RandomModel(size.config, 1);
      bf16->to(torch::kBFloat16);
      c10::InferenceMode guard;
      const double bf16_s = TimePerCall([&] { (void)ScoreBatch(*bf16, items); });
      std::cout << "  scoring bf16: " << tokens / bf16_s << " tokens/s, " << tokens * flops / bf16_s / 1e9
                << " GFLOP/s = " << 100.0 * tokens * flops / bf16_s / 1e9 / peak_bf16 << "% of bf16 peak\n";
    }
    for (int decode_batch : {1, 8, 32}) {
      SamplingOptions options;
      options.max_new_tokens = 32;
      std::vector<std::vector<int32_t>> prompts(decode_batch, std::vector<int32_t>(32, 5));
      const auto start = Clock::now();
      auto generated = Generate(*model, prompts, options);
      const double s = std::chrono::duration<double>(Clock::now() - start).count();
      std::cout << "  decode batch " << decode_batch << ": " << decode_batch * 32 / s
                << " tokens/s (prefill included)\n";
    }
  }

  std::string tokenizer_path;
  if (const char* env = std::getenv("SKILLSD_QWEN3_TOKENIZER")) tokenizer_path = env;
  std::unique_ptr<Tokenizer> tokenizer;
  if (!tokenizer_path.empty()) {
    auto t = Tokenizer::FromFile(tokenizer_path);
    if (t.ok()) tokenizer = std::move(t).value();
  }
  std::string text;
  for (int i = 0; i < 2000; ++i) {
    text +=
        "Moves left: 37. Boxes on targets: 1/2.\n######\n#__###\n#PX__#\n#_\xE2\x88\x9A__#\n#_O__#\n######\n"
        "<answer>Up || Left</answer> The quick brown fox jumps over the lazy dog. \xE4\xBD\xA0\xE5\xA5\xBD 42\n";
  }
  if (tokenizer == nullptr) {
    auto t = Tokenizer::FromJson(Tokenizer::TrainBpeJson({text.substr(0, 20000)}, 384, {"<|im_end|>"}));
    tokenizer = std::move(t).value();
    tokenizer_path = "tiny BPE (384)";
  }
  size_t n = 0;
  const double s = TimePerCall([&] { n = tokenizer->Encode(text).size(); });
  std::cout << "tokenizer " << tokenizer_path << ": " << text.size() / s / 1e6 << " MB/s (" << n << " tokens from "
            << text.size() / 1e6 << " MB)\n";
  return 0;
}
