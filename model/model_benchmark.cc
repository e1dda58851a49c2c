// Speed of the model on this machine, as ratios to the GEMM peak measured in the same run (the machine is
// shared and noisy, so absolute figures drift; same-run ratios do not):
//   - fp32 (and bf16) GEMM peak: the best of square matmuls;
//   - scoring (prefill) tokens/s and achieved GFLOP/s, as a fraction of the fp32 peak;
//   - training forward + backward tokens/s and its fraction;
//   - KV-cache decode tokens/s at batch 1, 8 and 32;
//   - tokenizer MB/s (the Qwen3 tokenizer when SKILLSD_QWEN3_TOKENIZER points to it, else the tiny one);
//   - the Qwen3-0.6B shape (hidden 1024, 16/8 heads of 128, MLP 3072, vocabulary 151,936, tied; --qwen3_layers
//     of its 28 layers, 4 by default on a CPU): prefill tokens/s, decode tokens/s at batch 8 and 32 (512-token
//     prompts, 128 new tokens), a training micro-batch's tokens/s, the peak resident memory of each, and beside
//     them, in the same run, model/decode_peer.py (PyTorch eager: torch.cat KV cache, multinomial sampling) on
//     the same weights (--peer=0 skips it).
//   build/bin/model_benchmark [--threads N] [--qwen3_layers N] [--peer 0|1] [--only_qwen3 1]
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <iomanip>
#include <iostream>
#include <thread>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

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

int64_t StatusKiB(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::atoll(line.c_str() + key.size() + 1);
  }
  return -1;
}
void ResetPeak() { std::ofstream("/proc/self/clear_refs") << "5"; }
double PeakMiB() { return StatusKiB("VmHWM") / 1024.0; }

// The Qwen3-0.6B shape with `layers` of its 28 decoder layers.
ModelConfig Qwen3Shape(int64_t layers) {
  ModelConfig c;
  c.family = Family::kQwen3;
  c.vocab_size = 151936;
  c.hidden_size = 1024;
  c.intermediate_size = 3072;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 16;
  c.num_key_value_heads = 8;
  c.head_dim = 128;
  c.rope_theta = 1000000;
  c.qk_norm = true;
  c.tie_word_embeddings = true;
  return c;
}

void Qwen3Benchmark(int64_t layers, int threads, bool peer, const std::string& self) {
  const ModelConfig config = Qwen3Shape(layers);
  std::cout << "Qwen3-0.6B shape with " << layers << " of 28 layers: " << config.NumParameters() / 1e6
            << " M params, vocabulary " << config.vocab_size << "\n";
  CausalLM model = RandomModel(config, 1);
  const int64_t prompt_len = 512, new_tokens = 128;
  auto prompts_of = [&](int64_t batch) {
    std::vector<std::vector<int32_t>> prompts(batch);
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t t = 0; t < prompt_len; ++t) prompts[b].push_back(static_cast<int32_t>((b * 7 + t * 3) % 1000));
    }
    return prompts;
  };
  for (int64_t batch : {8, 32}) {
    SamplingOptions options;
    options.max_new_tokens = static_cast<int>(new_tokens);
    options.min_shared_prefix = 0;  // distinct prompts: nothing to share, as in the peer
    ResetPeak();
    DecodeBatch decode(model.get(), options);
    auto start = Clock::now();
    if (!decode.Add(prompts_of(batch)).ok()) return;
    const double prefill_s = std::chrono::duration<double>(Clock::now() - start).count();
    start = Clock::now();
    int64_t sampled = 0;
    while (decode.live() > 0) sampled += static_cast<int64_t>(decode.Step().size());
    const double decode_s = std::chrono::duration<double>(Clock::now() - start).count();
    std::cout << "  prefill batch " << batch << " x " << prompt_len << ": " << batch * prompt_len / prefill_s
              << " tokens/s\n  decode batch " << batch << ": " << sampled / decode_s << " tokens/s (" << new_tokens
              << " new tokens after a " << prompt_len << "-token prompt); peak resident " << PeakMiB() << " MiB\n";
  }
  {
    // One training micro-batch: 4 x 512 tokens, the second half of each carrying loss (log-probs, backward).
    std::vector<ScoreItem> items;
    for (const auto& p : prompts_of(4)) {
      items.push_back({std::vector<int32_t>(p.begin(), p.begin() + prompt_len / 2),
                       std::vector<int32_t>(p.begin() + prompt_len / 2, p.end()), std::nullopt});
    }
    ResetPeak();
    const double s = TimePerCall(
        [&] {
          auto scored = ScoreBatch(*model, items);
          scored->logprobs.sum().backward();
          model->zero_grad();
        },
        0.1);
    std::cout << "  training micro-batch 4 x " << prompt_len << ": " << 4 * prompt_len / s
              << " tokens/s (forward + backward); peak resident " << PeakMiB() << " MiB\n";
  }
  if (!peer) return;
  char pattern[] = "/tmp/skillsd_bench_XXXXXX";
  const std::string dir = mkdtemp(pattern);
  if (!SaveModel(model, dir).ok()) return;
  const std::string script = self.substr(0, self.rfind('/') + 1) + "decode_peer.py";
  std::string located = std::ifstream(script).good() ? script : std::string(SKILLSD_SOURCE_DIR "/model/decode_peer.py");
  // Debian's interpreter, whose dist-packages hold python3-torch (a PATH python3 may be another one).
  const std::string python = std::ifstream("/usr/bin/python3").good() ? "/usr/bin/python3" : "python3";
  const std::string command = python + " " + located + " " + dir + " --batch 8 32 --prompt " +
                              std::to_string(prompt_len) + " --new " + std::to_string(new_tokens) + " --threads " +
                              std::to_string(threads) + " 2>&1";
  std::cout << "  " << command << "\n" << std::flush;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char line[512];
    while (fgets(line, sizeof(line), pipe) != nullptr) std::cout << "  " << line << std::flush;
    pclose(pipe);
  }
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int64_t qwen3_layers = 4;
  bool peer = true, only_qwen3 = false;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--threads") threads = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--qwen3_layers") qwen3_layers = std::atoll(argv[i + 1]);
    if (std::string(argv[i]) == "--peer") peer = std::atoi(argv[i + 1]) != 0;
    if (std::string(argv[i]) == "--only_qwen3") only_qwen3 = std::atoi(argv[i + 1]) != 0;
  }
  torch::set_num_threads(threads);
  std::cout << std::fixed << std::setprecision(1) << "threads: " << threads << "\n";
  const double peak = GemmPeak(torch::kFloat32);
  const double peak_bf16 = GemmPeak(torch::kBFloat16);
  std::cout << "GEMM peak fp32: " << peak << " GFLOP/s, bf16: " << peak_bf16 << " GFLOP/s\n";
  if (only_qwen3) {
    Qwen3Benchmark(qwen3_layers, threads, peer, argv[0]);
    return 0;
  }

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

  if (qwen3_layers > 0) Qwen3Benchmark(qwen3_layers, threads, peer, argv[0]);

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
