#include "learner/trainer.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "core/logging.h"
#include "core/random.h"
#include "core/status.h"
#include "model/autocast.h"
#include "model/inference.h"

namespace skillsd::learner {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

}  // namespace

Trainer::Trainer(model::CausalLM model, TrainerOptions options)
    : model_(std::move(model)), options_(options), shuffle_state_(options.seed) {
  model_->set_activation_checkpointing(options_.activation_checkpointing);
  // Ranks start from rank 0's weights.
  if (options_.data_parallel != nullptr) options_.data_parallel->BroadcastParameters(model_->parameters());
  optimizer_ = std::make_unique<torch::optim::AdamW>(
      model_->parameters(), torch::optim::AdamWOptions(options_.learning_rate).weight_decay(options_.weight_decay));
  if (options_.objective == Objective::kSkillSd && options_.loss.kl_ref_coef != 0) {
    // A frozen copy of the weights the trainer starts from (before any checkpoint is restored into model_).
    reference_ = model::CausalLM(model_->config());
    reference_->to(model_->device(), model_->dtype());
    SKILLSD_CHECK(reference_->LoadStateDict(model_->StateDict()).ok());
    for (auto& p : reference_->parameters()) p.set_requires_grad(false);
    reference_->eval();
  }
}

absl::Status Trainer::SyncFromRankZero() {
  DataParallel* dp = options_.data_parallel;
  if (dp == nullptr || dp->world_size() == 1) return absl::OkStatus();
  return CatchExceptions("synchronising the ranks", [&]() -> absl::Status {
    dp->BroadcastParameters(model_->parameters());
    std::string optimizer, counters;
    if (dp->rank() == 0) {
      std::ostringstream out;
      torch::save(*optimizer_, out);
      optimizer = out.str();
      counters = absl::StrCat(optimizer_steps_, " ", shuffle_state_);
    }
    dp->BroadcastBytes(&optimizer);
    dp->BroadcastBytes(&counters);
    if (dp->rank() != 0) {
      std::istringstream in(optimizer);
      torch::load(*optimizer_, in, model_->device());
      std::istringstream numbers(counters);
      numbers >> optimizer_steps_ >> shuffle_state_;
      if (numbers.fail()) return absl::InternalError("rank 0 sent malformed trainer counters");
    }
    return absl::OkStatus();
  });
}

absl::Status Trainer::Validate(const std::vector<TrainingSequence>& batch) const {
  if (batch.empty()) return absl::InvalidArgumentError("empty batch");
  const int64_t vocab = model_->config().vocab_size;
  const bool sdl = options_.objective == Objective::kSkillSd && options_.loss.sdl_coef != 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const TrainingSequence& s = batch[i];
    const size_t n = s.tokens.size();
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", i, ": ", why));
    };
    if (n < 2) return bad("needs at least 2 tokens");
    if (!std::isfinite(s.weight) || s.weight < 0) return bad("weight must be finite and >= 0");
    if (s.loss_mask.size() != n) return bad("loss_mask length differs from tokens");
    if (options_.objective == Objective::kSkillSd && s.old_logprobs.size() != n) {
      return bad("old_logprobs length differs from tokens");
    }
    if (sdl && s.teacher_logprobs.size() != n) return bad("teacher_logprobs length differs from tokens");
    for (int32_t id : s.tokens) {
      if (id < 0 || id >= vocab) return bad(absl::StrCat("token id ", id, " outside the vocabulary"));
    }
  }
  return absl::OkStatus();
}

double Trainer::ForwardBackward(const std::vector<const TrainingSequence*>& items, double total_tokens,
                                LossOutput* stats) {
  std::vector<model::ScoreItem> score_items;
  for (const TrainingSequence* s : items) {
    // Only loss-carrying tokens need log-probs: the vocabulary is paid for the generated tokens alone.
    std::vector<int64_t> scored;
    for (size_t j = 1; j < s->tokens.size(); ++j) {
      if (s->loss_mask[j]) scored.push_back(static_cast<int64_t>(j) - 1);
    }
    score_items.push_back(
        {{s->tokens[0]}, std::vector<int32_t>(s->tokens.begin() + 1, s->tokens.end()), std::move(scored)});
  }
  const bool entropy = options_.objective == Objective::kSkillSd && options_.loss.entropy_coef != 0;
  absl::StatusOr<model::ScoredBatch> scored;
  torch::Tensor ref_logprobs;
  {
    model::AutocastRegion autocast(options_.bf16_autocast, model_->device());
    scored = model::ScoreBatch(*model_, score_items, options_.temperature, /*top_k=*/0, entropy);
    SKILLSD_CHECK(scored.ok()) << scored.status();  // inputs were validated
    if (reference_) {
      torch::NoGradGuard no_grad;
      absl::StatusOr<model::ScoredBatch> ref = model::ScoreBatch(*reference_, score_items, options_.temperature);
      SKILLSD_CHECK(ref.ok()) << ref.status();
      ref_logprobs = ref->logprobs.to(torch::kFloat32).reshape({-1});
    }
  }
  const int64_t b = static_cast<int64_t>(items.size()), l = scored->logprobs.size(1);
  // Per-token targets on the [B, L] grid of continuation positions (token j + 1 of each sequence).
  torch::Tensor mask = torch::zeros({b, l}, torch::kFloat32);
  torch::Tensor old = torch::zeros({b, l}, torch::kFloat32);
  torch::Tensor teacher = torch::zeros({b, l}, torch::kFloat32);
  torch::Tensor adv = torch::zeros({b, l}, torch::kFloat32);
  auto m = mask.accessor<float, 2>();
  auto o = old.accessor<float, 2>();
  auto t = teacher.accessor<float, 2>();
  auto a = adv.accessor<float, 2>();
  for (int64_t i = 0; i < b; ++i) {
    const TrainingSequence& s = *items[i];
    for (int64_t j = 0; j + 1 < static_cast<int64_t>(s.tokens.size()); ++j) {
      m[i][j] = s.loss_mask[j + 1] ? static_cast<float>(s.weight) : 0.0f;
      if (!s.old_logprobs.empty()) o[i][j] = s.old_logprobs[j + 1];
      if (!s.teacher_logprobs.empty()) t[i][j] = s.teacher_logprobs[j + 1];
      a[i][j] = static_cast<float>(s.advantage);
    }
  }
  const torch::Device dev = model_->device();
  const torch::Tensor logprobs = scored->logprobs.to(torch::kFloat32).reshape({-1});
  const torch::Tensor flat_mask = mask.to(dev).reshape({-1});
  const double tokens = flat_mask.sum().item<double>();
  torch::Tensor loss;
  if (options_.objective == Objective::kSft) {
    loss = -(logprobs * flat_mask).sum() / std::max(1.0, tokens);
    stats->tokens = tokens;
  } else {
    LossInputs in;
    in.logprobs = logprobs;
    in.old_logprobs = old.to(dev).reshape({-1});
    in.teacher_logprobs = teacher.to(dev).reshape({-1});
    in.advantages = adv.to(dev).reshape({-1});
    in.mask = flat_mask;
    if (ref_logprobs.defined()) in.ref_logprobs = ref_logprobs;
    if (entropy) in.entropy = scored->entropy.to(torch::kFloat32).reshape({-1});
    *stats = SkillSdLoss(in, options_.loss);
    loss = stats->total;
  }
  // SkillSdLoss is a mean over this micro-batch's tokens; weight it so the accumulated gradient is the token
  // mean over the whole minibatch.
  const double weight = total_tokens > 0 ? tokens / total_tokens : 0.0;
  (loss * weight).backward();
  return loss.item<double>() * weight;
}

absl::StatusOr<StepStats> Trainer::Step(const std::vector<TrainingSequence>& batch) {
  RETURN_IF_ERROR(Validate(batch));
  return CatchExceptions("training step", [&]() -> absl::StatusOr<StepStats> {
    StepStats stats;
    model_->train();
    std::vector<const TrainingSequence*> order;
    for (const TrainingSequence& s : batch) order.push_back(&s);
    const int minibatches = std::max(1, std::min<int>(options_.minibatches, static_cast<int>(batch.size())));
    for (int epoch = 0; epoch < options_.ppo_epochs; ++epoch) {
      if (options_.ppo_epochs > 1 || minibatches > 1) {  // seeded Fisher-Yates shuffle
        Rng rng(SplitMix64(shuffle_state_++));
        for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Uniform(static_cast<uint32_t>(i))]);
      }
      for (int mb = 0; mb < minibatches; ++mb) {
        const size_t begin = order.size() * mb / minibatches, end = order.size() * (mb + 1) / minibatches;
        std::vector<const TrainingSequence*> minibatch(order.begin() + begin, order.begin() + end);
        double total_tokens = 0;
        for (const TrainingSequence* s : minibatch) {
          for (size_t j = 1; j < s->tokens.size(); ++j) total_tokens += s->loss_mask[j] ? s->weight : 0;
        }
        // Warm-up, then constant.
        const double lr = options_.learning_rate *
                          std::min(1.0, static_cast<double>(optimizer_steps_ + 1) / std::max(1, options_.warmup_steps));
        for (auto& group : optimizer_->param_groups()) {
          static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
        }
        optimizer_->zero_grad();
        auto start = Clock::now();
        double loss = 0;
        // This rank's share of the minibatch (all of it without data parallelism).
        DataParallel* dp = options_.data_parallel;
        if (dp != nullptr && dp->world_size() > 1) {
          std::vector<const TrainingSequence*> share;
          for (size_t i = dp->rank(); i < minibatch.size(); i += dp->world_size()) share.push_back(minibatch[i]);
          minibatch = std::move(share);
        }
        // Micro-batches of similar lengths: sorted by length, a new one starts when the padded size would pass the
        // token budget, or padding would pass a quarter of the real tokens (a batch that mixes 60-token turns with
        // 200-token skill-prompted ones would otherwise pad them all to 200). The loss is a token sum over the whole
        // minibatch, so how it is cut changes only the order of floating-point sums.
        std::stable_sort(minibatch.begin(), minibatch.end(), [](const TrainingSequence* a, const TrainingSequence* b) {
          return a->tokens.size() < b->tokens.size();
        });
        std::vector<const TrainingSequence*> micro;
        int64_t real = 0;
        for (size_t i = 0; i <= minibatch.size(); ++i) {
          bool flush = i == minibatch.size();
          if (!flush && !micro.empty()) {
            const int64_t length = static_cast<int64_t>(minibatch[i]->tokens.size());  // the longest so far
            const int64_t padded = length * static_cast<int64_t>(micro.size() + 1);
            flush = padded > options_.micro_batch_tokens || 4 * padded > 5 * (real + length);
          }
          if (flush && !micro.empty()) {
            stats.sequence_tokens += static_cast<double>(real);
            stats.padded_tokens += static_cast<double>(micro.back()->tokens.size() * micro.size());
            LossOutput part;
            loss += ForwardBackward(micro, total_tokens, &part);
            AddLossStatistics(part, &stats.terms);
            micro.clear();
            real = 0;
          }
          if (i < minibatch.size()) {
            micro.push_back(minibatch[i]);
            real += static_cast<int64_t>(minibatch[i]->tokens.size());
          }
        }
        if (dp != nullptr) {
          dp->AllReduceSumGradients(model_->parameters());
          loss = dp->AllReduceSum(loss);
        }
        stats.seconds_forward_backward += Seconds(start);
        start = Clock::now();
        // One pass: the norm before clipping is what clip_grad_norm_ returns (an infinite bound clips nothing).
        stats.grad_norm = torch::nn::utils::clip_grad_norm_(
            model_->parameters(),
            options_.grad_clip > 0 ? options_.grad_clip : std::numeric_limits<double>::infinity());
        optimizer_->step();
        stats.seconds_optimizer += Seconds(start);
        ++optimizer_steps_;
        ++stats.optimizer_steps;
        stats.loss += loss;
        stats.tokens += total_tokens;
        stats.learning_rate = lr;
      }
    }
    stats.loss /= std::max(1, stats.optimizer_steps);
    return stats;
  });
}

}  // namespace skillsd::learner
