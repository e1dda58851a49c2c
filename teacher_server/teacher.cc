#include "teacher_server/teacher.h"

#include <torch/torch.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "core/skill_prompt.h"
#include "core/token_sequence.h"
#include "model/inference.h"

namespace skillsd::teacher {
namespace {

struct TeacherMetrics {
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Counter& sequences;
  prometheus::Counter& tokens;
  prometheus::Histogram& batch_sequences;
  prometheus::Histogram& batch_seconds;
  prometheus::Gauge& version;
  prometheus::Gauge& queue;

  static TeacherMetrics& Get() {
    static TeacherMetrics* m = [] {
      auto& r = MetricsRegistry();
      return new TeacherMetrics{
          prometheus::BuildCounter()
              .Name("skillsd_teacher_requests_total")
              .Help("Score requests, by result.")
              .Register(r),
          prometheus::BuildCounter()
              .Name("skillsd_teacher_sequences_total")
              .Help("Sequences scored.")
              .Register(r)
              .Add({}),
          prometheus::BuildCounter()
              .Name("skillsd_teacher_tokens_total")
              .Help("Tokens run through the teacher (skill text included; a prefix shared by a batch counts once).")
              .Register(r)
              .Add({}),
          prometheus::BuildHistogram()
              .Name("skillsd_teacher_batch_sequences")
              .Help("Sequences per scoring batch.")
              .Register(r)
              .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256}),
          prometheus::BuildHistogram()
              .Name("skillsd_teacher_batch_seconds")
              .Help("Time to score one batch.")
              .Register(r)
              .Add({}, LatencyBuckets()),
          prometheus::BuildGauge()
              .Name("skillsd_teacher_version")
              .Help("Installed teacher version (-1 before the first snapshot).")
              .Register(r)
              .Add({}),
          prometheus::BuildGauge().Name("skillsd_teacher_queue_depth").Help("Requests waiting.").Register(r).Add({}),
      };
    }();
    return *m;
  }
};

bool EmptySkill(const skillsd::v1::SkillContent& s) {
  return s.success_analysis().empty() && s.mistake_analysis().empty() && s.golden_workflow().empty();
}

}  // namespace

struct Teacher::Pending {
  const skillsd::v1::ScoreRequest* request = nullptr;
  std::vector<model::ScoreItem> items;            // one per sequence
  std::vector<std::vector<int64_t>> positions;    // per item: scored positions within its continuation
  std::vector<std::vector<int>> segment_lengths;  // per item: GENERATED segment lengths
  absl::StatusOr<skillsd::v1::ScoreResponse> result;
  bool done = false;
};

Teacher::Teacher(std::shared_ptr<weights::ModelHolder> holder, const model::Tokenizer* tokenizer,
                 model::ChatTemplate chat, TeacherOptions options)
    : holder_(std::move(holder)),
      tokenizer_(tokenizer),
      chat_(std::move(chat)),
      options_(std::move(options)),
      queue_(static_cast<size_t>(std::max(1, options_.max_queued_requests))) {
  TeacherMetrics::Get().version.Set(static_cast<double>(holder_->version()));
  thread_ = std::thread([this] { Run(); });
}

Teacher::~Teacher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  const std::vector<Pending*> left = queue_.Close();  // also ends the batching thread's wait
  thread_.join();
  absl::MutexLock lock(&mu_);
  for (Pending* p : left) {
    p->result = absl::CancelledError("the teacher is stopping");
    p->done = true;
  }
}

std::vector<int32_t> Teacher::TeacherTokens(const skillsd::v1::TokenSequence& sequence,
                                            const std::vector<int32_t>& skill_tokens, std::vector<int64_t>* scored) {
  std::vector<int32_t> out;
  for (const auto& segment : sequence.segments()) {
    if (segment.role() == skillsd::v1::SEGMENT_ROLE_SKILL_SLOT) {
      out.insert(out.end(), skill_tokens.begin(), skill_tokens.end());
      continue;
    }
    const bool generated = segment.role() == skillsd::v1::SEGMENT_ROLE_GENERATED;
    for (int32_t id : segment.token_ids()) {
      if (generated) scored->push_back(static_cast<int64_t>(out.size()));
      out.push_back(id);
    }
  }
  return out;
}

void Teacher::NotifyInstalled() {
  absl::MutexLock lock(&mu_);
  ++installed_generation_;
  TeacherMetrics::Get().version.Set(static_cast<double>(holder_->version()));
}

int64_t Teacher::queue_depth() const { return static_cast<int64_t>(queue_.size()); }

absl::StatusOr<skillsd::v1::ScoreResponse> Teacher::Score(const skillsd::v1::ScoreRequest& request,
                                                          absl::Time deadline) {
  TeacherMetrics& metrics = TeacherMetrics::Get();
  auto fail = [&](absl::Status status) {
    metrics.requests.Add({{"result", absl::StatusCodeToString(status.code())}}).Increment();
    return status;
  };
  // Validation: everything is checked before anything is queued.
  if (request.sequences().empty()) return fail(absl::InvalidArgumentError("sequences: empty"));
  if (request.sequence_skills_size() != 0 && request.sequence_skills_size() != request.sequences_size()) {
    return fail(absl::InvalidArgumentError(absl::StrCat("sequence_skills: ", request.sequence_skills_size(),
                                                        " entries for ", request.sequences_size(), " sequences")));
  }
  if (request.top_k() < 0 || request.top_k() > options_.max_top_k) {
    return fail(absl::InvalidArgumentError(absl::StrCat("top_k: must be in [0, ", options_.max_top_k, "]")));
  }
  const int64_t vocab = (*holder_->Current())->config().vocab_size;
  if (request.probe_token_ids_size() > options_.max_top_k) {
    return fail(absl::InvalidArgumentError(absl::StrCat("probe_token_ids: at most ", options_.max_top_k)));
  }
  for (int32_t id : request.probe_token_ids()) {
    if (id < 0 || id >= vocab) {
      return fail(absl::InvalidArgumentError(absl::StrCat("probe_token_ids: ", id, " is outside the vocabulary")));
    }
  }
  Pending pending;
  pending.request = &request;
  int64_t total_tokens = 0;
  for (int s = 0; s < request.sequences_size(); ++s) {
    const auto& sequence = request.sequences(s);
    const std::string where = absl::StrCat("sequences[", s, "]");
    if (absl::Status valid = ValidateTokenSequence(sequence, vocab, where); !valid.ok()) return fail(valid);
    int skill_slots = 0;
    std::vector<int> lengths;
    for (const auto& segment : sequence.segments()) {
      if (segment.role() == skillsd::v1::SEGMENT_ROLE_SKILL_SLOT) ++skill_slots;
      if (segment.role() == skillsd::v1::SEGMENT_ROLE_GENERATED) lengths.push_back(segment.token_ids_size());
    }
    const skillsd::v1::SkillContent& skill =
        request.sequence_skills_size() ? request.sequence_skills(s) : request.skill();
    std::vector<int32_t> skill_tokens;
    if (!EmptySkill(skill)) {
      if (skill_slots == 0) return fail(absl::InvalidArgumentError(where + ": a skill but no SKILL_SLOT segment"));
      skill_tokens = chat_.Content(RenderSkill(options_.skill_template, skill));
    }
    std::vector<int64_t> scored;
    std::vector<int32_t> tokens = TeacherTokens(sequence, skill_tokens, &scored);
    if (scored.empty()) return fail(absl::InvalidArgumentError(where + ": no GENERATED tokens"));
    if (scored.front() == 0) return fail(absl::InvalidArgumentError(where + ": must start with a prompt"));
    total_tokens += static_cast<int64_t>(tokens.size());
    if (total_tokens > options_.max_request_tokens) {
      return fail(absl::InvalidArgumentError(
          absl::StrCat("sequences: more than ", options_.max_request_tokens, " tokens in one request")));
    }
    const int64_t first = scored.front();
    model::ScoreItem item;
    item.context.assign(tokens.begin(), tokens.begin() + first);
    item.continuation.assign(tokens.begin() + first, tokens.end());
    for (int64_t& p : scored) p -= first;
    item.scored = scored;  // the LM head runs on the generated tokens only
    pending.items.push_back(std::move(item));
    pending.positions.push_back(std::move(scored));
    pending.segment_lengths.push_back(std::move(lengths));
  }
  absl::MutexLock lock(&mu_);
  // Wait for the required version.
  const int64_t needed = request.min_teacher_version();
  const absl::Time version_deadline = std::min(deadline, absl::Now() + options_.version_wait);
  auto have_version = [this, needed]() { return stopping_ || holder_->version() >= needed; };
  mu_.AwaitWithDeadline(absl::Condition(&have_version), version_deadline);
  if (holder_->version() < needed) {
    return fail(
        absl::FailedPreconditionError(absl::StrCat("teacher version ", holder_->version(), " < required ", needed,
                                                   " (waited ", absl::FormatDuration(options_.version_wait), ")")));
  }
  if (stopping_) return fail(absl::CancelledError("the teacher is stopping"));
  if (absl::Status queued = queue_.TryPush(&pending); !queued.ok()) {
    return fail(queued.code() == absl::StatusCode::kResourceExhausted
                    ? absl::ResourceExhaustedError(absl::StrCat("teacher: ", queued.message()))
                    : absl::CancelledError("the teacher is stopping"));
  }
  metrics.queue.Set(static_cast<double>(queue_.size()));
  mu_.AwaitWithDeadline(absl::Condition(&pending.done), deadline);
  if (!pending.done) {
    if (queue_.Remove(&pending)) return fail(absl::DeadlineExceededError("deadline passed while queued"));
    mu_.Await(absl::Condition(&pending.done));  // being scored: it finishes soon
  }
  if (!pending.result.ok()) return fail(pending.result.status());
  metrics.requests.Add({{"result", "OK"}}).Increment();
  return std::move(pending.result);
}

void Teacher::Run() {
  while (true) {
    // Requests are weighed by their sequences: a batch holds up to max_batch_sequences of them (one larger request
    // goes alone).
    std::vector<Pending*> batch =
        queue_.PopBatch(static_cast<size_t>(std::max(1, options_.max_batch_sequences)), options_.batch_timeout,
                        [](Pending* const& p) { return p->items.size(); });
    if (batch.empty()) return;  // closed: the destructor cancels what is left
    TeacherMetrics::Get().queue.Set(static_cast<double>(queue_.size()));
    ScoreBatch(batch);
    queue_.Done(batch.size());
    absl::MutexLock lock(&mu_);
    for (Pending* p : batch) p->done = true;
  }
}

void Teacher::ScoreBatch(std::vector<Pending*>& batch) {
  TeacherMetrics& metrics = TeacherMetrics::Get();
  const absl::Time start = absl::Now();
  auto [model, version] = holder_->CurrentWithVersion();
  std::vector<model::ScoreItem> items;
  int top_k = 0;
  int64_t tokens = 0;
  std::vector<int64_t> probes;  // every request's probe ids, once each (requests read their own columns)
  for (Pending* p : batch) {
    top_k = std::max(top_k, p->request->top_k());
    for (const auto& item : p->items) items.push_back(item);
    for (int32_t id : p->request->probe_token_ids()) {
      if (std::find(probes.begin(), probes.end(), id) == probes.end()) probes.push_back(id);
    }
  }
  const int64_t num_probes = static_cast<int64_t>(probes.size());
  c10::InferenceMode guard;
  // Chunks of max_batch_sequences bound the padded batch (a single request may hold more sequences).
  std::vector<std::vector<float>> logprobs(items.size());
  std::vector<std::vector<std::vector<std::pair<int32_t, float>>>> top(items.size());
  std::vector<std::vector<float>> probe_values(items.size());  // [position × num_probes] per item
  absl::Status status;
  const size_t chunk = static_cast<size_t>(std::max(1, options_.max_batch_sequences));
  for (size_t begin = 0; begin < items.size() && status.ok(); begin += chunk) {
    const size_t end = std::min(items.size(), begin + chunk);
    std::vector<model::ScoreItem> part(items.begin() + static_cast<long>(begin),
                                       items.begin() + static_cast<long>(end));
    model::ScoreOptions score;
    score.top_k = top_k;
    score.probe_ids = probes;
    // A group's G samples under one skill share the system prompt, the skill and often the first observation:
    // that prefix is prefilled once per batch, not once per sequence.
    score.min_shared_prefix = 16;
    absl::StatusOr<model::ScoredBatch> scored = model::ScoreBatch(**model, part, score);
    if (!scored.ok()) {
      status = scored.status();
      break;
    }
    tokens += scored->model_tokens;
    const torch::Tensor lp = scored->logprobs.contiguous();
    const int64_t width = lp.size(1);
    const float* lp_data = lp.data_ptr<float>();
    torch::Tensor ids_t, top_t, probe_t;
    if (num_probes > 0) probe_t = scored->probe_logprobs.contiguous();
    if (top_k > 0) {
      ids_t = scored->top_k_ids.contiguous();
      top_t = scored->top_k_logprobs.contiguous();
    }
    for (size_t i = begin; i < end; ++i) {
      const int64_t row = static_cast<int64_t>(i - begin);
      const int64_t length = static_cast<int64_t>(part[row].continuation.size());
      logprobs[i].assign(lp_data + row * width, lp_data + row * width + length);
      if (num_probes > 0) {
        const float* values = probe_t.data_ptr<float>() + row * width * num_probes;
        probe_values[i].assign(values, values + length * num_probes);
      }
      if (top_k > 0) {
        const int64_t* ids = ids_t.data_ptr<int64_t>() + row * width * top_k;
        const float* values = top_t.data_ptr<float>() + row * width * top_k;
        top[i].resize(static_cast<size_t>(width));
        for (int64_t j = 0; j < static_cast<int64_t>(part[row].continuation.size()); ++j) {
          for (int k = 0; k < top_k; ++k) {
            top[i][j].emplace_back(static_cast<int32_t>(ids[j * top_k + k]), values[j * top_k + k]);
          }
        }
      }
    }
  }
  size_t at = 0;
  for (Pending* p : batch) {
    if (!status.ok()) {
      p->result = status;
      continue;
    }
    skillsd::v1::ScoreResponse response;
    response.set_teacher_version(version);
    std::vector<int64_t> columns;  // of this request's probes in the batch's
    for (int32_t id : p->request->probe_token_ids()) {
      columns.push_back(std::find(probes.begin(), probes.end(), id) - probes.begin());
    }
    for (size_t s = 0; s < p->items.size(); ++s, ++at) {
      auto* sequence = response.add_sequences();
      size_t next = 0;
      for (int length : p->segment_lengths[s]) {
        auto* segment = sequence->add_segments();
        for (int j = 0; j < length; ++j, ++next) {
          const int64_t position = p->positions[s][next];
          segment->add_logprobs(logprobs[at][position]);
          if (p->request->top_k() > 0) {
            auto* entry = segment->add_top_k();
            for (int k = 0; k < p->request->top_k(); ++k) {
              entry->add_token_ids(top[at][position][k].first);
              entry->add_logprobs(top[at][position][k].second);
            }
          }
          for (int64_t column : columns) segment->add_probe_logprobs(probe_values[at][position * num_probes + column]);
        }
      }
    }
    metrics.sequences.Increment(static_cast<double>(p->items.size()));
    p->result = std::move(response);
  }
  if (!status.ok()) SKILLSD_LOG(ERROR) << "teacher: scoring failed: " << status;
  metrics.tokens.Increment(static_cast<double>(tokens));
  metrics.batch_sequences.Observe(static_cast<double>(items.size()));
  metrics.batch_seconds.Observe(absl::ToDoubleSeconds(absl::Now() - start));
}

}  // namespace skillsd::teacher
