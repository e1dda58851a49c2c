#include "model/inference.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "model/vocab_head.h"

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

// Leading tokens a and b share, at most `limit`.
int64_t CommonPrefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b, int64_t limit) {
  int64_t k = 0;
  while (k < limit && k < static_cast<int64_t>(a.size()) && k < static_cast<int64_t>(b.size()) && a[k] == b[k]) ++k;
  return k;
}

// Scores items[rows] (validated) as one right-padded batch. With prefix > 0 (no gradients), their sequences share
// their first `prefix` tokens, which are prefilled once into a KV cache copied to every row; only the rest of
// each sequence runs through the model. The result's width is the longest continuation among `rows`.
ScoredBatch ScoreRows(CausalLMImpl& model, const std::vector<ScoreItem>& items, const std::vector<int64_t>& rows,
                      int64_t prefix, const ScoreOptions& options) {
  const int64_t b = static_cast<int64_t>(rows.size());
  std::vector<std::vector<int32_t>> sequences;
  int64_t longest = 0;
  for (int64_t i : rows) {
    const ScoreItem& item = items[i];
    std::vector<int32_t> s(item.context.begin() + prefix, item.context.end());
    s.insert(s.end(), item.continuation.begin(), item.continuation.end());
    sequences.push_back(std::move(s));
    longest = std::max<int64_t>(longest, static_cast<int64_t>(item.continuation.size()));
  }
  PaddedBatch batch = Pad(sequences);
  const int64_t width = batch.tokens.size(1);
  // Continuation token j of row i is predicted from the hidden state at context_len + j - 1; only the scored
  // ones go through the LM head, as one flat list.
  std::vector<int64_t> source, target, slot;
  for (int64_t r = 0; r < b; ++r) {
    const ScoreItem& item = items[rows[r]];
    const int64_t ctx = static_cast<int64_t>(item.context.size()) - prefix;
    auto add = [&](int64_t j) {
      source.push_back(r * width + ctx + j - 1);
      target.push_back(item.continuation[j]);
      slot.push_back(r * longest + j);
    };
    if (!item.scored) {
      for (int64_t j = 0; j < static_cast<int64_t>(item.continuation.size()); ++j) add(j);
    } else {
      for (int64_t j : *item.scored) add(j);
    }
  }
  const torch::Device dev = model.device();
  const auto on_dev = torch::TensorOptions().dtype(torch::kInt64).device(dev);
  const torch::Tensor slots = torch::tensor(slot, torch::kInt64).to(dev);
  torch::Tensor hidden;
  if (prefix > 0) {
    const std::vector<int32_t>& first = items[rows[0]].context;
    PaddedBatch shared = Pad({std::vector<int32_t>(first.begin(), first.begin() + prefix)});
    KVCache prefix_cache, cache;
    model.Hidden(shared.tokens, shared.positions, shared.valid, &prefix_cache);
    const ModelConfig& c = model.config();
    cache.AddRows(b);
    cache.Reserve(c.num_hidden_layers, c.num_key_value_heads, c.head_dim, prefix_cache.keys[0].options(), b,
                  prefix + width);
    for (int64_t r = 0; r < b; ++r) cache.CopyPrefix(prefix_cache.keys, prefix_cache.values, r, prefix);
    batch.positions += prefix;
    hidden = model.Hidden(batch.tokens, batch.positions, batch.valid, &cache);
  } else {
    hidden = model.Hidden(batch.tokens, batch.positions, batch.valid);
  }
  const torch::Tensor picked =
      hidden.reshape({b * width, hidden.size(-1)}).index_select(0, torch::tensor(source, torch::kInt64).to(dev));
  VocabHeadOptions head;
  head.temperature = options.temperature;
  head.top_k = options.top_k;
  head.with_entropy = options.with_entropy;
  head.probe_ids = options.probe_ids;
  const VocabHeadOutput scored =
      VocabHead(picked, model.LmHeadWeight(), torch::tensor(target, torch::kInt64).to(on_dev), head);
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(dev);
  // Back onto the [B, L] grid (index_put keeps the gradient of the scattered values).
  auto grid = [&](const torch::Tensor& values) {
    return torch::zeros({b * longest}, f32).index_put({slots}, values).view({b, longest});
  };
  ScoredBatch out;
  out.model_tokens = prefix;
  for (const auto& sequence : sequences) out.model_tokens += static_cast<int64_t>(sequence.size());
  out.mask = torch::zeros({b * longest}, f32.dtype(torch::kBool)).index_fill_(0, slots, true).view({b, longest});
  out.logprobs = grid(scored.logprobs);
  if (options.with_entropy) out.entropy = grid(scored.entropy);
  if (options.top_k > 0) {
    const int64_t k = scored.top_k_ids.size(1);
    out.top_k_ids = torch::zeros({b * longest, k}, on_dev).index_put({slots}, scored.top_k_ids).view({b, longest, k});
    out.top_k_logprobs =
        torch::zeros({b * longest, k}, f32).index_put({slots}, scored.top_k_logprobs).view({b, longest, k});
  }
  if (!options.probe_ids.empty()) {
    const int64_t p = static_cast<int64_t>(options.probe_ids.size());
    out.probe_logprobs =
        torch::zeros({b * longest, p}, f32).index_put({slots}, scored.probe_logprobs).view({b, longest, p});
  }
  return out;
}

}  // namespace

absl::StatusOr<ScoredBatch> ScoreBatch(CausalLMImpl& model, const std::vector<ScoreItem>& items,
                                       const ScoreOptions& options) {
  const int64_t vocab = model.config().vocab_size;
  if (options.temperature <= 0) return absl::InvalidArgumentError("temperature must be > 0");
  int64_t longest = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].context.empty()) return absl::InvalidArgumentError(absl::StrCat("item ", i, ": empty context"));
    RETURN_IF_ERROR(CheckTokens(items[i].context, vocab, absl::StrCat("item ", i, " context")));
    RETURN_IF_ERROR(CheckTokens(items[i].continuation, vocab, absl::StrCat("item ", i, " continuation")));
    const std::vector<int64_t> none;
    const std::vector<int64_t>& scored = items[i].scored ? *items[i].scored : none;
    for (size_t k = 0; k < scored.size(); ++k) {
      const int64_t j = scored[k];
      if (j < 0 || j >= static_cast<int64_t>(items[i].continuation.size()) || (k > 0 && j <= scored[k - 1])) {
        return absl::InvalidArgumentError(
            absl::StrCat("item ", i, ": scored index ", j, " is not an ascending index into the continuation"));
      }
    }
    longest = std::max<int64_t>(longest, static_cast<int64_t>(items[i].continuation.size()));
  }
  for (int64_t id : options.probe_ids) {
    if (id < 0 || id >= vocab)
      return absl::InvalidArgumentError(absl::StrCat("probe id ", id, " outside the vocabulary"));
  }
  const int64_t b = static_cast<int64_t>(items.size());
  if (b == 0 || longest == 0) {
    ScoredBatch out;
    out.logprobs = torch::zeros({b, longest});
    out.mask = torch::zeros({b, longest}, torch::kBool);
    if (options.with_entropy) out.entropy = torch::zeros({b, longest});
    if (!options.probe_ids.empty()) {
      out.probe_logprobs = torch::zeros({b, longest, static_cast<int64_t>(options.probe_ids.size())});
    }
    return out;
  }
  return CatchExceptions("scoring", [&]() -> absl::StatusOr<ScoredBatch> {
    std::vector<int64_t> all(b);
    for (int64_t i = 0; i < b; ++i) all[i] = i;
    if (options.min_shared_prefix <= 0 || torch::GradMode::is_enabled() || b < 2) {
      return ScoreRows(model, items, all, 0, options);
    }
    // Clusters of items whose contexts share >= min_shared_prefix leading tokens (neighbours in sorted order),
    // each prefix leaving every member at least one context token of its own.
    std::vector<int64_t> sorted = all;
    std::sort(sorted.begin(), sorted.end(), [&](int64_t x, int64_t y) { return items[x].context < items[y].context; });
    std::vector<std::pair<std::vector<int64_t>, int64_t>> clusters;  // members, shared prefix
    for (int64_t i : sorted) {
      const int64_t own = static_cast<int64_t>(items[i].context.size()) - 1;  // a prefix leaves >= 1 context token
      if (!clusters.empty()) {
        auto& [members, prefix] = clusters.back();
        const int64_t with = std::min({prefix, own, CommonPrefix(items[members[0]].context, items[i].context, prefix)});
        if (with >= options.min_shared_prefix) {
          members.push_back(i);
          prefix = with;
          continue;
        }
      }
      clusters.push_back({{i}, own});
    }
    if (static_cast<int64_t>(clusters.size()) == b) return ScoreRows(model, items, all, 0, options);
    const torch::Device dev = model.device();
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(dev);
    ScoredBatch out;
    out.logprobs = torch::zeros({b, longest}, f32);
    out.mask = torch::zeros({b, longest}, f32.dtype(torch::kBool));
    if (options.with_entropy) out.entropy = torch::zeros({b, longest}, f32);
    if (options.top_k > 0) {
      const int64_t k = std::min<int64_t>(options.top_k, vocab);
      out.top_k_ids = torch::zeros({b, longest, k}, f32.dtype(torch::kInt64));
      out.top_k_logprobs = torch::zeros({b, longest, k}, f32);
    }
    if (!options.probe_ids.empty()) {
      out.probe_logprobs = torch::zeros({b, longest, static_cast<int64_t>(options.probe_ids.size())}, f32);
    }
    for (const auto& [members, prefix] : clusters) {
      const ScoredBatch part = ScoreRows(model, items, members, members.size() > 1 ? prefix : 0, options);
      out.model_tokens += part.model_tokens;
      const torch::Tensor rows = torch::tensor(members, torch::kInt64).to(dev);
      const int64_t width = part.logprobs.size(1);
      out.logprobs.narrow(1, 0, width).index_copy_(0, rows, part.logprobs);
      out.mask.narrow(1, 0, width).index_copy_(0, rows, part.mask);
      if (options.with_entropy) out.entropy.narrow(1, 0, width).index_copy_(0, rows, part.entropy);
      if (options.top_k > 0) {
        out.top_k_ids.narrow(1, 0, width).index_copy_(0, rows, part.top_k_ids);
        out.top_k_logprobs.narrow(1, 0, width).index_copy_(0, rows, part.top_k_logprobs);
      }
      if (!options.probe_ids.empty()) out.probe_logprobs.narrow(1, 0, width).index_copy_(0, rows, part.probe_logprobs);
    }
    return out;
  });
}

DecodeBatch::DecodeBatch(CausalLMImpl* model, SamplingOptions options)
    : model_(model), options_(std::move(options)), rng_(options_.seed) {}

int64_t DecodeBatch::RowOf(int64_t sequence) const {
  for (size_t r = 0; r < rows_.size(); ++r) {
    if (rows_[r].id == sequence) return static_cast<int64_t>(r);
  }
  return -1;
}

const std::vector<int32_t>* DecodeBatch::Tokens(int64_t sequence) const {
  const int64_t r = RowOf(sequence);
  return r < 0 ? nullptr : &rows_[r].tokens;
}

void DecodeBatch::Reserve(int64_t longest) {
  const ModelConfig& c = model_->config();
  cache_.Reserve(c.num_hidden_layers, c.num_key_value_heads, c.head_dim,
                 torch::TensorOptions().dtype(model_->dtype()).device(model_->device()), cache_.rows(),
                 std::max(cache_.slot_capacity(), longest + options_.max_new_tokens + 1));
}

void DecodeBatch::DropRow(int64_t r) {
  cache_.RemoveRow(r);  // the last row moves into r, in the cache and here
  rows_[r] = std::move(rows_.back());
  rows_.pop_back();
}

void DecodeBatch::SwapRows(int64_t a, int64_t b) {
  if (a == b) return;
  cache_.SwapRows(a, b);
  std::swap(rows_[a], rows_[b]);
}

torch::Tensor DecodeBatch::Prefill(int64_t first, int64_t n) {
  std::vector<std::vector<int32_t>> pending(n);
  std::vector<int64_t> start(n);
  for (int64_t i = 0; i < n; ++i) {
    const Row& row = rows_[first + i];
    start[i] = cache_.lengths[first + i];
    pending[i].assign(row.tokens.begin() + start[i], row.tokens.end());
    prefilled_tokens_ += static_cast<int64_t>(pending[i].size());
  }
  PaddedBatch batch = Pad(pending);
  batch.positions += torch::tensor(start, torch::kInt64).view({n, 1});
  const torch::Tensor hidden = model_->Hidden(batch.tokens, batch.positions, batch.valid, &cache_, first);
  std::vector<int64_t> last;
  for (const auto& p : pending) last.push_back(static_cast<int64_t>(p.size()) - 1);
  const torch::Tensor index = torch::tensor(last, torch::kInt64).to(hidden.device());
  return model_->Logits(hidden.index({torch::arange(n, index.options()), index}));
}

void DecodeBatch::SharePrefix(const std::vector<int32_t>& prompt, int64_t length) {
  const int64_t reuse = CommonPrefix(prefix_tokens_, prompt, length);
  if (reuse == length) return;  // the kept prefix already starts with it
  prefix_.lengths = {reuse};
  std::vector<int32_t> rest(prompt.begin() + reuse, prompt.begin() + length);
  prefilled_tokens_ += static_cast<int64_t>(rest.size());
  PaddedBatch batch = Pad({rest});
  batch.positions += reuse;
  model_->Hidden(batch.tokens, batch.positions, batch.valid, &prefix_, 0);
  prefix_tokens_.assign(prompt.begin(), prompt.begin() + length);
}

absl::StatusOr<std::vector<int64_t>> DecodeBatch::Add(const std::vector<std::vector<int32_t>>& prompts) {
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " is empty"));
    RETURN_IF_ERROR(CheckTokens(prompts[i], model_->config().vocab_size, absl::StrCat("prompt ", i)));
  }
  RETURN_IF_ERROR(CheckTokens(options_.probe_tokens, model_->config().vocab_size, "probe tokens"));
  if (prompts.empty()) return std::vector<int64_t>();
  return CatchExceptions("prefill", [&]() -> absl::StatusOr<std::vector<int64_t>> {
    c10::InferenceMode guard;
    const int64_t n = static_cast<int64_t>(prompts.size());
    // Distinct prompts are prefilled; a repeated one copies its first occurrence's cache.
    std::vector<int64_t> distinct, source(n);
    std::map<std::vector<int32_t>, int64_t> seen;
    for (int64_t i = 0; i < n; ++i) {
      prompt_tokens_ += static_cast<int64_t>(prompts[i].size());
      auto [it, added] = seen.emplace(prompts[i], static_cast<int64_t>(distinct.size()));
      if (added) distinct.push_back(i);
      source[i] = it->second;
    }
    const int64_t d = static_cast<int64_t>(distinct.size());
    // The leading run the distinct prompts share, leaving each at least one token of its own.
    int64_t shared = static_cast<int64_t>(prompts[distinct[0]].size()) - 1;
    for (int64_t u = 1; u < d; ++u) {
      const auto& p = prompts[distinct[u]];
      shared = CommonPrefix(prompts[distinct[0]], p, std::min<int64_t>(shared, static_cast<int64_t>(p.size()) - 1));
    }
    if (options_.min_shared_prefix <= 0 || shared < options_.min_shared_prefix) shared = 0;
    if (shared > 0) SharePrefix(prompts[distinct[0]], shared);
    // New rows at the end of the cache, moved into the decoding region [active_, active_ + n): the distinct
    // prompts first, then the repeats.
    const int64_t first_new = cache_.rows();
    int64_t longest = 0;
    for (const auto& p : prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));
    cache_.AddRows(n);
    Reserve(longest);
    std::vector<int64_t> order = distinct;
    for (int64_t i = 0; i < n; ++i) {
      if (distinct[source[i]] != i) order.push_back(i);
    }
    // Ids follow the prompts' order.
    const int64_t base = next_id_;
    next_id_ += n;
    std::vector<int64_t> ids(n);
    for (int64_t i = 0; i < n; ++i) ids[i] = base + i;
    for (int64_t k = 0; k < n; ++k) rows_.push_back({base + order[k], prompts[order[k]], 0});
    for (int64_t k = 0; k < n; ++k) SwapRows(active_ + k, first_new + k);
    for (int64_t u = 0; u < d && shared > 0; ++u) cache_.CopyPrefix(prefix_.keys, prefix_.values, active_ + u, shared);
    torch::Tensor logits = Prefill(active_, d);
    std::vector<int64_t> logit_rows;
    for (int64_t u = 0; u < d; ++u) logit_rows.push_back(u);
    for (int64_t k = d; k < n; ++k) {
      const int64_t from = active_ + source[order[k]];
      cache_.CopyRow(from, active_ + k, cache_.lengths[from]);
      logit_rows.push_back(source[order[k]]);
    }
    logits = logits.index_select(0, torch::tensor(logit_rows, torch::kInt64).to(logits.device()));
    next_logits_ = next_logits_.defined() && active_ > 0 ? torch::cat({next_logits_, logits}, 0) : logits;
    active_ += n;
    return ids;
  });
}

absl::Status DecodeBatch::Extend(const std::vector<int64_t>& ids, const std::vector<std::vector<int32_t>>& tokens) {
  if (ids.size() != tokens.size()) return absl::InvalidArgumentError("Extend: one token list per sequence");
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t r = RowOf(ids[i]);
    if (r < 0) return absl::InvalidArgumentError(absl::StrCat("Extend: unknown sequence ", ids[i]));
    if (r < active_) return absl::InvalidArgumentError(absl::StrCat("Extend: sequence ", ids[i], " is decoding"));
    RETURN_IF_ERROR(CheckTokens(tokens[i], model_->config().vocab_size, absl::StrCat("Extend: sequence ", ids[i])));
    if (tokens[i].empty() && cache_.lengths[r] == static_cast<int64_t>(rows_[r].tokens.size())) {
      return absl::InvalidArgumentError(absl::StrCat("Extend: nothing to prefill for sequence ", ids[i]));
    }
  }
  if (std::set<int64_t>(ids.begin(), ids.end()).size() != ids.size()) {
    return absl::InvalidArgumentError("Extend: a sequence named twice");
  }
  if (ids.empty()) return absl::OkStatus();
  return CatchExceptions("extend", [&]() -> absl::Status {
    c10::InferenceMode guard;
    const int64_t first = active_, n = static_cast<int64_t>(ids.size());
    int64_t longest = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      longest = std::max<int64_t>(longest, static_cast<int64_t>(rows_[RowOf(ids[i])].tokens.size() + tokens[i].size()));
    }
    Reserve(longest);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t r = RowOf(ids[i]);
      Row& row = rows_[r];
      row.tokens.insert(row.tokens.end(), tokens[i].begin(), tokens[i].end());
      row.generated = 0;
      prompt_tokens_ += static_cast<int64_t>(tokens[i].size());
      SwapRows(r, first + i);
    }
    const torch::Tensor logits = Prefill(first, n);
    next_logits_ = next_logits_.defined() && active_ > 0 ? torch::cat({next_logits_, logits}, 0) : logits;
    active_ += n;
    return absl::OkStatus();
  });
}

void DecodeBatch::Sample(const torch::Tensor& logits, std::vector<int32_t>* tokens, std::vector<float>* logprobs,
                         std::vector<float>* probes) {
  const int64_t a = logits.size(0);
  std::vector<double> uniform(a);
  for (double& u : uniform) u = rng_.UniformDouble();
  const torch::Device dev = logits.device();
  const torch::Tensor u = torch::tensor(uniform, torch::kFloat64).to(dev).view({a, 1});
  torch::Tensor logp = torch::log_softmax(options_.temperature == 1.0 ? logits : logits / options_.temperature, -1);
  if (!options_.probe_tokens.empty()) {
    const torch::Tensor ids = torch::tensor(options_.probe_tokens, torch::kInt64).to(dev);
    const torch::Tensor picked = logp.index_select(1, ids).to(torch::kCPU).contiguous();
    probes->assign(picked.data_ptr<float>(), picked.data_ptr<float>() + picked.numel());
  }
  torch::Tensor order;  // [A, K]: vocabulary ids of the candidate columns; undefined = all, in id order
  if (options_.top_k > 0 || options_.top_p < 1.0) {
    // The top-k / top-p set, most likely first, renormalised: the smallest prefix whose mass reaches top_p.
    const int64_t vocab = logp.size(1);
    std::tuple<torch::Tensor, torch::Tensor> sorted =
        options_.top_k > 0 ? logp.topk(std::min<int64_t>(options_.top_k, vocab), -1) : logp.sort(-1, true);
    torch::Tensor candidates = std::get<0>(sorted);
    order = std::get<1>(sorted);
    if (options_.top_p < 1.0) {
      const torch::Tensor p = candidates.exp();
      candidates = candidates.masked_fill((p.cumsum(-1) - p) >= options_.top_p, -INFINITY);
    }
    logp = candidates - candidates.logsumexp(-1, /*keepdim=*/true);
  }
  // Inverse-CDF sampling with the host's uniforms: the first column whose cumulative mass passes u (float64 sums).
  const torch::Tensor cdf = logp.exp().to(torch::kFloat64).cumsum(-1);
  const torch::Tensor column =
      torch::searchsorted(cdf, u * cdf.narrow(1, cdf.size(1) - 1, 1), /*out_int32=*/false, /*right=*/true)
          .clamp_max(cdf.size(1) - 1);
  const torch::Tensor chosen_logp = logp.gather(1, column).to(torch::kCPU).contiguous();
  const torch::Tensor chosen = (order.defined() ? order.gather(1, column) : column).to(torch::kCPU).contiguous();
  tokens->resize(a);
  logprobs->resize(a);
  for (int64_t i = 0; i < a; ++i) {
    (*tokens)[i] = static_cast<int32_t>(chosen.data_ptr<int64_t>()[i]);
    (*logprobs)[i] = chosen_logp.data_ptr<float>()[i];
  }
}

std::vector<SampledToken> DecodeBatch::Step() {
  std::vector<SampledToken> out;
  if (active_ == 0) return out;
  c10::InferenceMode guard;
  std::vector<int32_t> tokens;
  std::vector<float> logprobs, probes;
  Sample(next_logits_, &tokens, &logprobs, &probes);
  const size_t p = options_.probe_tokens.size();
  std::vector<int64_t> finished;
  for (int64_t r = 0; r < active_; ++r) {
    Row& row = rows_[r];
    SampledToken t{row.id, tokens[r], logprobs[r], false, {}};
    if (p > 0) t.probe_logprobs.assign(probes.begin() + r * p, probes.begin() + (r + 1) * p);
    row.tokens.push_back(t.token);
    ++row.generated;
    t.finished =
        row.generated >= options_.max_new_tokens ||
        std::find(options_.stop_tokens.begin(), options_.stop_tokens.end(), t.token) != options_.stop_tokens.end();
    if (t.finished) finished.push_back(r);
    out.push_back(t);
  }
  // Finished rows leave the decoding region (from the highest, so the rows swapped in still decode), and the batch
  // too unless kept.
  for (auto it = finished.rbegin(); it != finished.rend(); ++it) {
    SwapRows(*it, active_ - 1);
    --active_;
    if (!options_.keep_finished) DropRow(active_);
  }
  if (active_ > 0) {
    std::vector<int64_t> next, positions;
    for (int64_t r = 0; r < active_; ++r) {
      next.push_back(rows_[r].tokens.back());
      positions.push_back(cache_.lengths[r]);
    }
    const torch::Tensor tok = torch::tensor(next, torch::kInt64).view({active_, 1});
    const torch::Tensor pos = torch::tensor(positions, torch::kInt64).view({active_, 1});
    const torch::Tensor hidden = model_->Hidden(tok, pos, torch::ones({active_, 1}, torch::kBool), &cache_, 0);
    next_logits_ = model_->Logits(hidden.squeeze(1));
  } else {
    next_logits_ = torch::Tensor();
  }
  return out;
}

void DecodeBatch::Remove(int64_t sequence) {
  int64_t r = RowOf(sequence);
  if (r < 0) return;
  c10::InferenceMode guard;  // the cache holds inference tensors
  if (r < active_) {
    // Out of the decoding region, keeping next_logits_ aligned with the rows that stay.
    SwapRows(r, active_ - 1);
    if (next_logits_.defined()) {
      std::vector<int64_t> keep;
      for (int64_t k = 0; k < active_; ++k) keep.push_back(k == r ? active_ - 1 : k);
      keep.pop_back();
      next_logits_ = next_logits_.index_select(0, torch::tensor(keep, torch::kInt64).to(next_logits_.device()));
    }
    r = --active_;
  }
  DropRow(r);
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
