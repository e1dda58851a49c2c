#include "skill_service/skill_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/grpc_status.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "core/status.h"

namespace skillsd::skill {
namespace {

struct SkillMetrics {
  prometheus::Family<prometheus::Counter>& summaries;
  prometheus::Gauge& queue;
  prometheus::Family<prometheus::Counter>& selections;
  prometheus::Histogram& summarize_seconds;
  prometheus::Gauge& bank_skills;
  prometheus::Gauge& bank_tasks;

  static SkillMetrics& Get() {
    static SkillMetrics* m = [] {
      auto& r = MetricsRegistry();
      return new SkillMetrics{
          prometheus::BuildCounter()
              .Name("skillsd_skill_summaries_total")
              .Help("Summarised trajectories, by result (added, duplicate, nothing, failed).")
              .Register(r),
          prometheus::BuildGauge().Name("skillsd_skill_queue_depth").Help("Trajectories waiting.").Register(r).Add({}),
          prometheus::BuildCounter()
              .Name("skillsd_skill_selections_total")
              .Help("Skill selections, by whether the bank had a skill.")
              .Register(r),
          prometheus::BuildHistogram()
              .Name("skillsd_skill_summarize_seconds")
              .Help("Time to summarise one trajectory.")
              .Register(r)
              .Add({}, LatencyBuckets()),
          prometheus::BuildGauge().Name("skillsd_skill_bank_skills").Help("Skills in the bank.").Register(r).Add({}),
          prometheus::BuildGauge()
              .Name("skillsd_skill_bank_tasks")
              .Help("Tasks with at least one skill.")
              .Register(r)
              .Add({}),
      };
    }();
    return *m;
  }

  // Every labelled series at zero from the start, so dashboards and alerts see them before the first event.
  void InitSeries() {
    for (const char* result : {"added", "duplicate", "nothing", "failed"}) summaries.Add({{"result", result}});
    for (const char* found : {"true", "false"}) selections.Add({{"found", found}});
  }

  void SetBankSize(SkillBank& bank) {
    absl::StatusOr<skillsd::v1::GetSkillStatusResponse> status = bank.Status();
    if (!status.ok()) return;
    bank_skills.Set(static_cast<double>(status->skills()));
    bank_tasks.Set(static_cast<double>(status->tasks()));
  }
};

}  // namespace

SkillServiceImpl::SkillServiceImpl(std::unique_ptr<SkillBank> bank, std::unique_ptr<Summarizer> summarizer,
                                   int capacity)
    : bank_(std::move(bank)), summarizer_(std::move(summarizer)), queue_(static_cast<size_t>(std::max(1, capacity))) {}

absl::StatusOr<std::unique_ptr<SkillServiceImpl>> SkillServiceImpl::Create(std::unique_ptr<SkillBank> bank,
                                                                           std::unique_ptr<Summarizer> summarizer,
                                                                           int queue_capacity) {
  std::unique_ptr<SkillServiceImpl> service(
      new SkillServiceImpl(std::move(bank), std::move(summarizer), queue_capacity));
  absl::StatusOr<std::vector<skillsd::v1::Trajectory>> pending = service->bank_->PendingTrajectories();
  if (!pending.ok()) return pending.status();
  if (!pending->empty()) SKILLSD_LOG(INFO) << "skill service: resuming " << pending->size() << " queued trajectories";
  SkillMetrics::Get().InitSeries();
  SkillMetrics::Get().SetBankSize(*service->bank_);
  // Persisted before the restart: queued whatever the capacity (they were acknowledged).
  for (auto& t : *pending) service->queue_.PushBeyondCapacity(std::move(t));
  SkillMetrics::Get().queue.Set(static_cast<double>(service->queue_.size()));
  service->worker_ = std::thread([s = service.get()] { s->Run(); });
  return service;
}

SkillServiceImpl::~SkillServiceImpl() {
  queue_.Close();  // what is still queued stays persisted in the bank
  worker_.join();
}

void SkillServiceImpl::Run() {
  SkillMetrics& metrics = SkillMetrics::Get();
  while (true) {
    std::vector<skillsd::v1::Trajectory> next =
        queue_.PopBatch(1, absl::ZeroDuration(), [](const skillsd::v1::Trajectory&) { return size_t{1}; });
    if (next.empty()) return;  // closed
    const skillsd::v1::Trajectory& trajectory = next.front();
    metrics.queue.Set(static_cast<double>(queue_.size()));
    const absl::Time start = absl::Now();
    absl::StatusOr<skillsd::v1::SkillContent> skill = summarizer_->Summarize(trajectory);
    metrics.summarize_seconds.Observe(absl::ToDoubleSeconds(absl::Now() - start));
    const bool nothing = !skill.ok() && skill.status().code() == absl::StatusCode::kFailedPrecondition;
    const bool failed = !skill.ok() && !nothing;
    if (failed) SKILLSD_LOG(WARNING) << "skill service: " << trajectory.trajectory_id() << ": " << skill.status();
    absl::StatusOr<bool> added = bank_->CompleteTrajectory(trajectory, skill.ok() ? &*skill : nullptr,
                                                           summarizer_->name(), summarizer_->model(), failed);
    if (!added.ok()) {
      // The trajectory stays queued in the database: the next start retries it.
      SKILLSD_LOG(ERROR) << "skill service: storing the summary of " << trajectory.trajectory_id()
                         << " failed: " << added.status();
    }
    const char* result = failed ? "failed" : nothing ? "nothing" : (added.ok() && *added) ? "added" : "duplicate";
    metrics.summaries.Add({{"result", result}}).Increment();
    if (added.ok() && *added) metrics.SetBankSize(*bank_);
    queue_.Done(1);
  }
}

void SkillServiceImpl::WaitIdle() { queue_.WaitDrained(); }

grpc::Status SkillServiceImpl::SubmitTrajectories(grpc::ServerContext*,
                                                  const skillsd::v1::SubmitTrajectoriesRequest* request,
                                                  skillsd::v1::SubmitTrajectoriesResponse* response) {
  std::vector<skillsd::v1::Trajectory> trajectories;
  for (int i = 0; i < request->trajectories_size(); ++i) {
    const auto& t = request->trajectories(i);
    if (t.trajectory_id().empty() || t.task().task_id().empty()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("trajectories[", i, "]: trajectory_id and task.task_id are required")));
    }
    trajectories.push_back(t);
  }
  // Room first (refused at once when full), then persisted, then queued: what is acknowledged is both stored and
  // queued, and a refusal stores nothing.
  const size_t room = trajectories.size();
  const absl::Status reserved = queue_.Reserve(room, absl::Now());
  if (!reserved.ok()) return ToGrpcStatus(Annotate(reserved, "summary queue"));
  absl::StatusOr<std::vector<size_t>> added = bank_->EnqueueTrajectories(trajectories);
  if (!added.ok()) {
    queue_.Release(room);
    return ToGrpcStatus(added.status());
  }
  response->set_queued(static_cast<int>(added->size()));
  response->set_duplicates(static_cast<int>(trajectories.size() - added->size()));
  // Queue exactly the newly persisted ones (a duplicate is already queued or done).
  std::vector<skillsd::v1::Trajectory> fresh;
  for (size_t i : *added) fresh.push_back(std::move(trajectories[i]));
  queue_.Commit(std::move(fresh), room);  // closed (shutting down): they stay persisted for the next start
  SkillMetrics::Get().queue.Set(static_cast<double>(queue_.size()));
  return grpc::Status::OK;
}

grpc::Status SkillServiceImpl::SelectSkill(grpc::ServerContext*, const skillsd::v1::SelectSkillRequest* request,
                                           skillsd::v1::SelectSkillResponse* response) {
  if (request->task_id().empty()) return ToGrpcStatus(absl::InvalidArgumentError("task_id is required"));
  absl::StatusOr<skillsd::v1::SelectSkillResponse> result = bank_->Select(request->task_id(), request->selection_id());
  if (!result.ok()) return ToGrpcStatus(result.status());
  SkillMetrics::Get().selections.Add({{"found", result->has_skill() ? "true" : "false"}}).Increment();
  *response = std::move(result).value();
  return grpc::Status::OK;
}

grpc::Status SkillServiceImpl::ReportOutcome(grpc::ServerContext*, const skillsd::v1::ReportOutcomeRequest* request,
                                             skillsd::v1::ReportOutcomeResponse*) {
  return ToGrpcStatus(bank_->ReportOutcome(*request));
}

grpc::Status SkillServiceImpl::ListSkills(grpc::ServerContext*, const skillsd::v1::ListSkillsRequest* request,
                                          skillsd::v1::ListSkillsResponse* response) {
  absl::StatusOr<std::vector<skillsd::v1::Skill>> skills = bank_->List(request->task_id(), request->limit());
  if (!skills.ok()) return ToGrpcStatus(skills.status());
  for (auto& s : *skills) *response->add_skills() = std::move(s);
  return grpc::Status::OK;
}

grpc::Status SkillServiceImpl::GetStatus(grpc::ServerContext*, const skillsd::v1::GetSkillStatusRequest*,
                                         skillsd::v1::GetSkillStatusResponse* response) {
  absl::StatusOr<skillsd::v1::GetSkillStatusResponse> status = bank_->Status();
  if (!status.ok()) return ToGrpcStatus(status.status());
  *response = *status;
  return grpc::Status::OK;
}

}  // namespace skillsd::skill
