#include "model/inference.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace skillsd::model {
namespace {

absl::Status CheckTokens(const std::vector<int32_t>& tokens, int64_t vocab, absl::string_view what) {
  for (int32_t id : tokens) {
    if (id < 0 || id >= vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": token id ", id, " outside the vocabulary [0, ", vocab, ")"));
    }
  }
  return absl::OkStatus();
}

// Right-padded [B, T] tokens, positions and validity for `sequences`.
struct PaddedBatch {
  torch::Tensor tokens, positions, valid;
};
PaddedBatch Pad(const std::vector<std::vector<int32_t>>& sequences) {
  int64_t longest = 0;
  for (const auto& s : sequences) longest = std::max<int64_t>(longest, static_cast<int64_t>(s.size()));
  const int64_t b = static_cast<int64_t>(sequences.size());
  PaddedBatch out{torch::zeros({b, longest}, torch::kInt64), torch::zeros({b, longest}, torch::kInt64),
                  torch::zeros({b, longest}, torch::kBool)};
  auto tokens = out.tokens.accessor<int64_t, 2>();
  auto positions = out.positions.accessor<int64_t, 2>();
  auto valid = out.valid.accessor<bool, 2>();
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t j = 0; j < static_cast<int64_t>(sequences[i].size()); ++j) {
      tokens[i][j] = sequences[i][j];
      positions[i][j] = j;
      valid[i][j] = true;
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<ScoredBatch> ScoreBatch(CausalLMImpl& model, const std::vector<ScoreItem>& items, double temperature,
                                       int top_k, bool with_entropy) {
  const int64_t vocab = model.config().vocab_size;
  if (temperature <= 0) return absl::InvalidArgumentError("temperature must be > 0");
  std::vector<std::vector<int32_t>> sequences;
  int64_t longest = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].context.empty()) return absl::InvalidArgumentError(absl::StrCat("item ", i, ": empty context"));
    RETURN_IF_ERROR(CheckTokens(items[i].context, vocab, absl::StrCat("item ", i, " context")));
    RETURN_IF_ERROR(CheckTokens(items[i].continuation, vocab, absl::StrCat("item ", i, " continuation")));
    std::vector<int32_t> s = items[i].context;
    s.insert(s.end(), items[i].continuation.begin(), items[i].continuation.end());
    sequences.push_back(std::move(s));
    longest = std::max<int64_t>(longest, static_cast<int64_t>(items[i].continuation.size()));
  }
  const int64_t b = static_cast<int64_t>(items.size());
  ScoredBatch out;
  if (b == 0 || longest == 0) {
    out.logprobs = torch::zeros({b, longest});
    out.mask = torch::zeros({b, longest}, torch::kBool);
    if (with_entropy) out.entropy = torch::zeros({b, longest});
    return out;
  }
  return CatchExceptions("scoring", [&]() -> absl::StatusOr<ScoredBatch> {
    const PaddedBatch batch = Pad(sequences);
    // Row i's continuation token j is predicted from the hidden state at context_len + j - 1.
    torch::Tensor source = torch::zeros({b, longest}, torch::kInt64);
    torch::Tensor target = torch::zeros({b, longest}, torch::kInt64);
    torch::Tensor mask = torch::zeros({b, longest}, torch::kBool);
    auto src = source.accessor<int64_t, 2>();
    auto tgt = target.accessor<int64_t, 2>();
    auto msk = mask.accessor<bool, 2>();
    for (int64_t i = 0; i < b; ++i) {
      const int64_t ctx = static_cast<int64_t>(items[i].context.size());
      for (int64_t j = 0; j < static_cast<int64_t>(items[i].continuation.size()); ++j) {
        src[i][j] = ctx + j - 1;
        tgt[i][j] = items[i].continuation[j];
        msk[i][j] = true;
      }
    }
    const torch::Device dev = model.device();
    const torch::Tensor hidden = model.Hidden(batch.tokens, batch.positions, batch.valid);
    const torch::Tensor picked = hidden.gather(1, source.to(dev).unsqueeze(-1).expand({b, longest, hidden.size(-1)}));
    const torch::Tensor logp = torch::log_softmax(model.Logits(picked) / temperature, -1);
    out.mask = mask.to(dev);
    out.logprobs = logp.gather(2, target.to(dev).unsqueeze(-1)).squeeze(-1).masked_fill(out.mask.logical_not(), 0.0);
    if (top_k > 0) {
      auto top = logp.topk(std::min<int64_t>(top_k, vocab), -1);
      out.top_k_logprobs = std::get<0>(top);
      out.top_k_ids = std::get<1>(top);
    }
    if (with_entropy) {
      out.entropy = (-(logp.exp() * logp).sum(-1)).to(torch::kFloat32).masked_fill(out.mask.logical_not(), 0.0);
    }
    return out;
  });
}

DecodeBatch::DecodeBatch(CausalLMImpl* model, SamplingOptions options)
    : model_(model), options_(std::move(options)), rng_(options_.seed) {}

absl::StatusOr<std::vector<int64_t>> DecodeBatch::Add(const std::vector<std::vector<int32_t>>& prompts) {
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " is empty"));
    RETURN_IF_ERROR(CheckTokens(prompts[i], model_->config().vocab_size, absl::StrCat("prompt ", i)));
  }
  if (prompts.empty()) return std::vector<int64_t>();
  return CatchExceptions("prefill", [&]() -> absl::StatusOr<std::vector<int64_t>> {
    c10::InferenceMode guard;
    const PaddedBatch batch = Pad(prompts);
    KVCache fresh;
    const torch::Tensor hidden = model_->Hidden(batch.tokens, batch.positions, batch.valid, &fresh);
    std::vector<int64_t> last;
    for (const auto& p : prompts) last.push_back(static_cast<int64_t>(p.size()) - 1);
    const torch::Tensor index = torch::tensor(last, torch::kInt64).to(hidden.device());
    const torch::Tensor rows = torch::arange(static_cast<int64_t>(prompts.size()), index.options());
    const torch::Tensor logits = model_->Logits(hidden.index({rows, index})).to(torch::kCPU).contiguous();
    cache_.AppendRows(fresh);
    next_logits_ = next_logits_.defined() ? torch::cat({next_logits_, logits}, 0) : logits;
    std::vector<int64_t> ids;
    for (const auto& p : prompts) {
      rows_.push_back({next_id_, static_cast<int64_t>(p.size()), 0});
      ids.push_back(next_id_++);
    }
    return ids;
  });
}

int32_t DecodeBatch::Sample(const float* logits, int64_t vocab, float* logprob) {
  // Tempered softmax in double, then the top-k / top-p set, renormalised.
  std::vector<double> p(vocab);
  double max_logit = -INFINITY;
  for (int64_t v = 0; v < vocab; ++v) max_logit = std::max(max_logit, static_cast<double>(logits[v]));
  double total = 0;
  for (int64_t v = 0; v < vocab; ++v) total += (p[v] = std::exp((logits[v] - max_logit) / options_.temperature));
  for (double& x : p) x /= total;
  std::vector<int32_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  int64_t keep = vocab;
  if (options_.top_k > 0 || options_.top_p < 1.0) {
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
    if (options_.top_k > 0) keep = std::min<int64_t>(keep, options_.top_k);
    if (options_.top_p < 1.0) {
      double mass = 0;
      for (int64_t i = 0; i < keep; ++i) {
        mass += p[order[i]];
        if (mass >= options_.top_p) {
          keep = i + 1;
          break;
        }
      }
    }
  }
  double kept = 0;
  for (int64_t i = 0; i < keep; ++i) kept += p[order[i]];
  double u = rng_.UniformDouble() * kept;
  int32_t chosen = order[keep - 1];
  for (int64_t i = 0; i < keep; ++i) {
    u -= p[order[i]];
    if (u < 0) {
      chosen = order[i];
      break;
    }
  }
  *logprob = static_cast<float>(std::log(p[chosen] / kept));
  return chosen;
}

void DecodeBatch::Keep(const std::vector<bool>& keep) {
  std::vector<int64_t> rows;
  std::vector<Row> kept;
  for (size_t i = 0; i < keep.size(); ++i) {
    if (keep[i]) {
      rows.push_back(static_cast<int64_t>(i));
      kept.push_back(rows_[i]);
    }
  }
  if (kept.size() == rows_.size()) return;
  rows_ = std::move(kept);
  if (rows_.empty()) {
    cache_ = KVCache();
    next_logits_ = torch::Tensor();
    return;
  }
  const torch::Tensor index = torch::tensor(rows, torch::kInt64);
  cache_.SelectRows(index.to(model_->device()));
  cache_.Compact();
  next_logits_ = next_logits_.index_select(0, index);
}

std::vector<SampledToken> DecodeBatch::Step() {
  std::vector<SampledToken> out;
  if (rows_.empty()) return out;
  c10::InferenceMode guard;
  const int64_t vocab = next_logits_.size(1);
  const float* logits = next_logits_.data_ptr<float>();
  std::vector<bool> keep(rows_.size(), true);
  std::vector<int64_t> tokens, positions;
  for (size_t i = 0; i < rows_.size(); ++i) {
    SampledToken t;
    t.sequence = rows_[i].id;
    t.token = Sample(logits + i * vocab, vocab, &t.logprob);
    ++rows_[i].generated;
    t.finished =
        rows_[i].generated >= options_.max_new_tokens ||
        std::find(options_.stop_tokens.begin(), options_.stop_tokens.end(), t.token) != options_.stop_tokens.end();
    keep[i] = !t.finished;
    tokens.push_back(t.token);
    positions.push_back(rows_[i].next_position++);
    out.push_back(t);
  }
  // Advance the sequences that go on by one token.
  std::vector<int64_t> live_tokens, live_positions;
  for (size_t i = 0; i < keep.size(); ++i) {
    if (keep[i]) {
      live_tokens.push_back(tokens[i]);
      live_positions.push_back(positions[i]);
    }
  }
  Keep(keep);
  if (!rows_.empty()) {
    const int64_t b = static_cast<int64_t>(rows_.size());
    const torch::Tensor tok = torch::tensor(live_tokens, torch::kInt64).view({b, 1});
    const torch::Tensor pos = torch::tensor(live_positions, torch::kInt64).view({b, 1});
    const torch::Tensor hidden = model_->Hidden(tok, pos, torch::ones({b, 1}, torch::kBool), &cache_);
    next_logits_ = model_->Logits(hidden.squeeze(1)).to(torch::kCPU).contiguous();
  }
  return out;
}

void DecodeBatch::Remove(int64_t sequence) {
  std::vector<bool> keep(rows_.size(), true);
  for (size_t i = 0; i < rows_.size(); ++i) keep[i] = rows_[i].id != sequence;
  Keep(keep);
}

absl::StatusOr<std::vector<Generation>> Generate(CausalLMImpl& model, const std::vector<std::vector<int32_t>>& prompts,
                                                 const SamplingOptions& options) {
  DecodeBatch batch(&model, options);
  ASSIGN_OR_RETURN(std::vector<int64_t> ids, batch.Add(prompts));
  std::vector<Generation> out(prompts.size());
  const int64_t first = ids.empty() ? 0 : ids.front();
  while (batch.live() > 0) {
    for (const SampledToken& t : batch.Step()) {
      out[t.sequence - first].tokens.push_back(t.token);
      out[t.sequence - first].logprobs.push_back(t.logprob);
    }
  }
  return out;
}

}  // namespace skillsd::model
