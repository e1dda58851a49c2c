// model_check: runs our decoder on a Hugging Face model folder, for comparisons against another implementation
// (tools/gpu_check.sh compares with `transformers` on a GPU) and for timing. Needs only the ML core.
//
//   model_check --model DIR --tokens FILE --out FILE.safetensors [--device cuda] [--dtype bfloat16]
//       FILE holds one sequence of token ids per line (space-separated); writes logits [B, T, V] (float32,
//       right-padded sequences, positions from 0) as the tensor "logits".
//   model_check --model DIR --bench [--device cuda] [--dtype bfloat16] [--batch 8] [--seq 512] [--iters 20]
//       times scoring forwards (prefill) and prints tokens/s and achieved TFLOP/s (2 × parameters per token
//       plus attention).
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/check_args.h"
#include "model/safetensors.h"
#include "model/transformer.h"

namespace {

using ::skillsd::CheckArg;
using ::skillsd::CheckFlag;

}  // namespace

int main(int argc, char** argv) {
  using namespace skillsd::model;
  const std::string dir = CheckArg(argc, argv, "model", "");
  if (dir.empty()) {
    std::cerr << "usage: model_check --model DIR (--tokens FILE --out FILE | --bench) [--device D] [--dtype T]\n";
    return 2;
  }
  const torch::Device device(CheckArg(argc, argv, "device", "cpu"));
  const torch::ScalarType dtype =
      CheckArg(argc, argv, "dtype", "float32") == "bfloat16" ? torch::kBFloat16 : torch::kFloat32;
  auto model = LoadModel(dir, device, dtype);
  if (!model.ok()) {
    std::cerr << "model_check: " << model.status() << "\n";
    return 1;
  }
  (*model)->eval();
  c10::InferenceMode guard;
  if (CheckFlag(argc, argv, "bench")) {
    const int64_t batch = std::atoll(CheckArg(argc, argv, "batch", "8").c_str());
    const int64_t seq = std::atoll(CheckArg(argc, argv, "seq", "512").c_str());
    const int iters = std::atoi(CheckArg(argc, argv, "iters", "20").c_str());
    const ModelConfig& c = (*model)->config();
    const torch::Tensor tokens = torch::randint(c.vocab_size, {batch, seq}, torch::kInt64);
    const torch::Tensor positions = torch::arange(seq).repeat({batch, 1});
    const torch::Tensor valid = torch::ones({batch, seq}, torch::kBool);
    auto run = [&] { return (*model)->Forward(tokens, positions, valid).sum().item<double>(); };
    run();
    run();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) run();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double tokens_per_s = batch * seq * iters / seconds;
    const double attention = 4.0 * c.num_hidden_layers * c.num_attention_heads * c.head_dim * seq / 2.0;
    const double flops_per_token = 2.0 * c.NumParameters() + attention;
    std::cout << "bench device=" << device << " dtype=" << c10::toString(dtype) << " batch=" << batch << " seq=" << seq
              << " params=" << c.NumParameters() << " tokens/s=" << tokens_per_s
              << " TFLOP/s=" << tokens_per_s * flops_per_token / 1e12 << "\n";
    return 0;
  }
  std::ifstream in(CheckArg(argc, argv, "tokens", ""));
  std::vector<std::vector<int64_t>> sequences;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ids(line);
    std::vector<int64_t> seq;
    for (int64_t id; ids >> id;) seq.push_back(id);
    if (!seq.empty()) sequences.push_back(seq);
  }
  if (sequences.empty()) {
    std::cerr << "model_check: no token sequences\n";
    return 2;
  }
  int64_t longest = 0;
  for (const auto& s : sequences) longest = std::max<int64_t>(longest, static_cast<int64_t>(s.size()));
  const int64_t b = static_cast<int64_t>(sequences.size());
  torch::Tensor tokens = torch::zeros({b, longest}, torch::kInt64);
  torch::Tensor positions = torch::zeros({b, longest}, torch::kInt64);
  torch::Tensor valid = torch::zeros({b, longest}, torch::kBool);
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t j = 0; j < static_cast<int64_t>(sequences[i].size()); ++j) {
      tokens[i][j] = sequences[i][j];
      positions[i][j] = j;
      valid[i][j] = true;
    }
  }
  const torch::Tensor logits = (*model)->Forward(tokens, positions, valid).to(torch::kCPU).contiguous();
  absl::Status written = WriteSafetensors(CheckArg(argc, argv, "out", "logits.safetensors"), {{"logits", logits}});
  if (!written.ok()) {
    std::cerr << "model_check: " << written << "\n";
    return 1;
  }
  std::cout << "model_check: wrote logits " << logits.sizes() << "\n";
  return 0;
}
