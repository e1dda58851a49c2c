// learner_check: checks the learner's ML core on a device against the CPU, and times training (tools/gpu_check.sh
// runs it on a GPU; it needs only the ML core). Prints one line per check, "PASS" or "FAIL", and exits 1 on any
// failure.
//
//   learner_check [--device cuda] [--bench | --bench_small]
//
// 1. One Skill-SD step (GRPO + SDL) of a small random model on the device in float32, in bf16 autocast and with
//    bfloat16 weights, against the same step on the CPU in float32: loss and gradient agreement.
// 2. SFT on the device, float32 and bf16 autocast: the loss falls.
// 3. --bench: the GEMM peak (8192³ products, bfloat16 and float32) and training throughput of a ~130M-parameter
//    model (batch 16 × 512 tokens) in float32, bf16 autocast and bfloat16 weights, as tokens/s and the achieved
//    fraction of the peak measured in the same run.
// 4. Data parallelism through a real one-rank process group of the device's backend (NCCL on CUDA): collectives
//    are identities and a step through it equals a step without it, bit for bit.
#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "core/check_args.h"
#include "learner/distributed.h"
#include "learner/trainer.h"
#include "model/test_model.h"
#include "model/transformer.h"

namespace {

using skillsd::learner::DataParallel;
using skillsd::learner::Objective;
using skillsd::learner::StepStats;
using skillsd::learner::Trainer;
using skillsd::learner::TrainerOptions;
using skillsd::learner::TrainingSequence;
using skillsd::model::CausalLM;
using skillsd::model::ModelConfig;

int failures = 0;

void Check(bool ok, const std::string& what) {
  std::cout << (ok ? "PASS " : "FAIL ") << what << std::endl;
  if (!ok) ++failures;
}

using ::skillsd::CheckArg;
using ::skillsd::CheckFlag;

void Sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

// Sequences of mixed lengths: a prompt, then generated tokens with behaviour and teacher log-probs.
std::vector<TrainingSequence> Batch(int64_t vocab, int count, int min_len, int max_len, uint64_t seed) {
  std::vector<TrainingSequence> batch;
  uint64_t x = seed;
  auto next = [&x]() {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return x >> 33;
  };
  for (int i = 0; i < count; ++i) {
    TrainingSequence s;
    const int len = min_len + static_cast<int>(next() % static_cast<uint64_t>(max_len - min_len + 1));
    const int prompt = len / 4;
    for (int k = 0; k < len; ++k) {
      s.tokens.push_back(static_cast<int32_t>(next() % static_cast<uint64_t>(vocab)));
      s.loss_mask.push_back(k >= prompt ? 1 : 0);
      s.old_logprobs.push_back(-std::log(static_cast<float>(vocab)) + 0.3f * static_cast<float>(next() % 5) - 0.6f);
      s.teacher_logprobs.push_back(-std::log(static_cast<float>(vocab)) + 0.2f * static_cast<float>(next() % 7) - 0.6f);
    }
    s.advantage = static_cast<double>(next() % 5) / 2.0 - 1.0;
    batch.push_back(std::move(s));
  }
  return batch;
}

struct StepResult {
  StepStats stats;
  torch::Tensor grads;    // all gradients, flattened, float64 on the CPU
  torch::Tensor weights;  // all weights after the step, flattened, float64 on the CPU
};

torch::Tensor Flatten(const std::vector<torch::Tensor>& tensors, bool grads) {
  std::vector<torch::Tensor> parts;
  for (const auto& t : tensors) {
    parts.push_back((grads ? t.grad() : t).detach().to(torch::kCPU, torch::kFloat64).reshape({-1}));
  }
  return torch::cat(parts);
}

StepResult OneStep(const ModelConfig& config, const torch::Device& device, torch::ScalarType dtype, bool autocast,
                   const std::vector<TrainingSequence>& batch, DataParallel* dp = nullptr) {
  CausalLM model = skillsd::model::RandomModel(config, 7);
  model->to(device, dtype);
  TrainerOptions o;
  o.learning_rate = 1e-3;
  o.warmup_steps = 1;
  o.grad_clip = 0;
  o.loss.sdl_coef = 0.2;
  o.micro_batch_tokens = 256;  // several micro-batches
  o.bf16_autocast = autocast;
  o.data_parallel = dp;
  Trainer trainer(model, o);
  auto stats = trainer.Step(batch);
  if (!stats.ok()) {
    std::cerr << "learner_check: " << stats.status() << "\n";
    std::exit(1);
  }
  return {*stats, Flatten(trainer.model()->parameters(), true), Flatten(trainer.model()->parameters(), false)};
}

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

void CompareSteps(const torch::Device& device) {
  const ModelConfig config = skillsd::model::TestModelConfig(/*vocab=*/96, /*hidden=*/64, /*layers=*/2, /*heads=*/4,
                                                             /*kv_heads=*/2);
  const auto batch = Batch(config.vocab_size, 12, 12, 40, 1);
  const StepResult ref = OneStep(config, torch::kCPU, torch::kFloat32, false, batch);
  struct Variant {
    const char* name;
    torch::ScalarType dtype;
    bool autocast;
    double loss_tol, grad_tol, min_cosine;
  };
  const Variant variants[] = {
      {"float32", torch::kFloat32, false, 1e-4, 1e-3, 0.99999},
      {"bf16 autocast", torch::kFloat32, true, 2e-2, 0.1, 0.99},
      {"bfloat16 weights", torch::kBFloat16, false, 3e-2, 0.2, 0.98},
  };
  std::cout << "| " << device << " variant | loss | CPU float32 loss | rel. loss diff | max grad diff / max grad | "
            << "grad cosine |\n|---|---|---|---|---|---|\n";
  std::vector<std::pair<bool, std::string>> results;
  for (const Variant& v : variants) {
    const StepResult got = OneStep(config, device, v.dtype, v.autocast, batch);
    const double rel_loss = std::abs(got.stats.loss - ref.stats.loss) / std::abs(ref.stats.loss);
    const double grad_diff = ((got.grads - ref.grads).abs().max() / ref.grads.abs().max()).item<double>();
    const double cosine = (got.grads.dot(ref.grads) / (got.grads.norm() * ref.grads.norm())).item<double>();
    std::cout << "| " << v.name << " | " << Fmt(got.stats.loss) << " | " << Fmt(ref.stats.loss) << " | "
              << Fmt(rel_loss) << " | " << Fmt(grad_diff) << " | " << Fmt(cosine) << " |\n";
    results.push_back({rel_loss < v.loss_tol && grad_diff < v.grad_tol && cosine > v.min_cosine,
                       std::string("Skill-SD step on ") + device.str() + ", " + v.name + ", agrees with CPU float32"});
  }
  std::cout << "\n";
  for (const auto& [ok, what] : results) Check(ok, what);
}

void SftLearns(const torch::Device& device) {
  const ModelConfig config = skillsd::model::TestModelConfig(96, 64, 2, 4, 2);
  const auto batch = Batch(config.vocab_size, 8, 16, 24, 2);
  for (bool autocast : {false, true}) {
    CausalLM model = skillsd::model::RandomModel(config, 3);
    model->to(device);
    TrainerOptions o;
    o.objective = Objective::kSft;
    o.learning_rate = 1e-2;
    o.warmup_steps = 1;
    o.bf16_autocast = autocast;
    Trainer trainer(model, o);
    double first = 0, last = 0;
    for (int i = 0; i < 60; ++i) {
      const double loss = trainer.Step(batch)->loss;
      if (i == 0) first = loss;
      last = loss;
    }
    Check(last < 0.3 * first, std::string("SFT on ") + device.str() + (autocast ? " (bf16 autocast)" : " (float32)") +
                                  " memorises its batch: loss " + Fmt(first) + " -> " + Fmt(last));
  }
}

void OneRankGroup(const torch::Device& device) {
  const bool available = device.is_cuda() ? DataParallel::HasNccl() : DataParallel::HasGloo();
  if (!available) {
    Check(false, std::string("this build has no c10d backend for ") + device.str());
    return;
  }
  const std::string store = "/tmp/learner_check_store_" + std::to_string(::getpid());
  std::remove(store.c_str());
  auto dp = DataParallel::WithFileStore(store, 0, 1, device);
  if (!dp.ok()) {
    Check(false, "one-rank process group: " + std::string(dp.status().message()));
    return;
  }
  Check(std::string((*dp)->backend()) == (device.is_cuda() ? "nccl" : "gloo"),
        std::string("process group backend is ") + (*dp)->backend());
  Check((*dp)->AllReduceSum(2.5) == 2.5, "all-reduce of one rank is the identity");
  std::string bytes(4097, 'x');
  bytes[100] = '\0';
  const std::string sent = bytes;
  (*dp)->BroadcastBytes(&bytes);
  Check(bytes == sent, "broadcast of bytes from rank 0 keeps them");
  const ModelConfig config = skillsd::model::TestModelConfig(96, 64, 2, 4, 2);
  const auto batch = Batch(config.vocab_size, 6, 12, 30, 3);
  const StepResult plain = OneStep(config, device, torch::kFloat32, false, batch);
  const StepResult grouped = OneStep(config, device, torch::kFloat32, false, batch, dp->get());
  Check(torch::equal(plain.weights, grouped.weights),
        std::string("a step through the ") + (*dp)->backend() + " group equals one without it");
  const auto start = std::chrono::steady_clock::now();
  dp->reset();
  Check(true, "process group shut down in " +
                  Fmt(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()) + " s");
  std::remove(store.c_str());
}

double GemmTflops(const torch::Device& device, torch::ScalarType dtype, int64_t n, int iters) {
  const torch::Tensor a = torch::randn({n, n}, torch::TensorOptions().device(device).dtype(dtype));
  const torch::Tensor b = torch::randn({n, n}, torch::TensorOptions().device(device).dtype(dtype));
  torch::Tensor c;
  for (int i = 0; i < 3; ++i) c = torch::matmul(a, b);
  Sync(device);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) c = torch::matmul(a, b);
  Sync(device);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return 2.0 * n * n * n * iters / s / 1e12;
}

// `small`: a quick run of the same code on a tiny model (to try the benchmark on a CPU).
void Bench(const torch::Device& device, bool small) {
  const int64_t n = device.is_cuda() ? 8192 : 1024;
  const double peak_bf16 = GemmTflops(device, torch::kBFloat16, n, device.is_cuda() ? 20 : 3);
  const double peak_f32 = GemmTflops(device, torch::kFloat32, n, device.is_cuda() ? 10 : 3);
  std::cout << "GEMM peak (" << n << "^3, same run): bfloat16 " << Fmt(peak_bf16) << " TFLOP/s, float32 "
            << Fmt(peak_f32) << " TFLOP/s\n";
  ModelConfig c = small ? skillsd::model::TestModelConfig(/*vocab=*/512, /*hidden=*/128, /*layers=*/2, /*heads=*/4,
                                                          /*kv_heads=*/2)
                        : skillsd::model::TestModelConfig(32000, 1024, 8, 16, 8);
  c.intermediate_size = 3 * c.hidden_size;
  c.head_dim = small ? 32 : 64;
  c.rope_theta = ModelConfig().rope_theta;
  const int64_t seq = small ? 64 : 512, count = 16;
  std::vector<TrainingSequence> batch = Batch(c.vocab_size, static_cast<int>(count), seq, seq, 4);
  // Training FLOPs per token: forward 2 per parameter (the tied embedding is the output projection) plus
  // attention (QK^T and PV over a causal half context), backward twice the forward.
  const double attention = 4.0 * c.num_hidden_layers * c.num_attention_heads * c.head_dim * seq / 2.0;
  const double flops_per_token = 3.0 * (2.0 * c.NumParameters() + attention);
  std::cout << "\nTraining step (Skill-SD loss, AdamW), " << c.NumParameters() / 1e6 << " M parameters, batch " << count
            << " x " << seq << " tokens, micro-batches of 4096 tokens, on " << device << ":\n\n"
            << "| precision | tokens/s | TFLOP/s | fraction of the GEMM peak (same run) |\n|---|---|---|---|\n";
  struct Variant {
    const char* name;
    torch::ScalarType dtype;
    bool autocast;
  };
  for (const Variant& v : {Variant{"float32", torch::kFloat32, false}, Variant{"bf16 autocast", torch::kFloat32, true},
                           Variant{"bfloat16 weights", torch::kBFloat16, false}}) {
    CausalLM model = skillsd::model::RandomModel(c, 5);
    model->to(device, v.dtype);
    TrainerOptions o;
    o.learning_rate = 1e-5;
    o.loss.sdl_coef = 0.001;
    o.micro_batch_tokens = 4096;
    o.bf16_autocast = v.autocast;
    Trainer trainer(model, o);
    const int warmup = 2, iters = device.is_cuda() ? 10 : 1;
    for (int i = 0; i < warmup; ++i) (void)trainer.Step(batch);
    Sync(device);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) (void)trainer.Step(batch);
    Sync(device);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double tokens_per_s = static_cast<double>(count * seq * iters) / s;
    const double tflops = tokens_per_s * flops_per_token / 1e12;
    const double peak = v.dtype == torch::kFloat32 && !v.autocast ? peak_f32 : peak_bf16;
    std::cout << "| " << v.name << " | " << Fmt(tokens_per_s) << " | " << Fmt(tflops) << " | " << Fmt(tflops / peak)
              << " |\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::cout << std::unitbuf;  // every line out at once, also when piped and stopped by a timeout
  const torch::Device device(CheckArg(argc, argv, "device", torch::cuda::is_available() ? "cuda" : "cpu"));
  std::cout << "learner_check on " << device << " (LibTorch " << TORCH_VERSION << ", NCCL "
            << (DataParallel::HasNccl() ? "yes" : "no") << ", Gloo " << (DataParallel::HasGloo() ? "yes" : "no")
            << ")\n\n";
  CompareSteps(device);
  SftLearns(device);
  if (CheckFlag(argc, argv, "bench") || CheckFlag(argc, argv, "bench_small"))
    Bench(device, CheckFlag(argc, argv, "bench_small"));
  OneRankGroup(device);
  std::cout << (failures == 0 ? "\nall checks passed\n" : "\nSOME CHECKS FAILED\n");
  return failures == 0 ? 0 : 1;
}
