// The teacher's domain core (no gRPC): scores the student's GENERATED tokens under the skill-conditioned prompt —
// each sequence's SKILL_SLOT replaced by the rendered skill, every other token as the student saw it — with the
// weights installed by the learner's schedule. Requests that arrive together are scored in one batch (dynamic
// batching: the first request waits up to batch_timeout for company, up to max_batch_sequences sequences).
// A request that needs a newer teacher version than installed waits up to version_wait, then gets
// FAILED_PRECONDITION. At most max_queued_requests wait to be scored: one more is refused with RESOURCE_EXHAUSTED
// (retry later) and nothing already queued is dropped. Thread-safe.
#ifndef SKILLSD_TEACHER_SERVER_TEACHER_H_
#define SKILLSD_TEACHER_SERVER_TEACHER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/bounded_queue.h"
#include "model/chat.h"
#include "model/tokenizer.h"
#include "skillsd/v1/teacher.pb.h"
#include "weights/model_snapshot.h"

namespace skillsd::teacher {

struct TeacherOptions {
  std::string skill_template;  // SPEC §4; {success_analysis}, {mistake_analysis}, {golden_workflow}
  int max_batch_sequences = 64;
  absl::Duration batch_timeout = absl::Milliseconds(5);
  absl::Duration version_wait = absl::Seconds(30);
  int64_t max_request_tokens = 1 << 20;  // per request, after the skill is inserted
  int max_top_k = 20;
  int max_queued_requests = 256;  // teacher.queue_capacity
};

class Teacher {
 public:
  // `tokenizer` must outlive the Teacher.
  Teacher(std::shared_ptr<weights::ModelHolder> holder, const model::Tokenizer* tokenizer, model::ChatTemplate chat,
          TeacherOptions options);
  ~Teacher();  // stops the batching thread; queued requests get CANCELLED

  // INVALID_ARGUMENT for a malformed request (nothing is scored), FAILED_PRECONDITION when the required version
  // did not arrive in time, RESOURCE_EXHAUSTED when the queue is full, DEADLINE_EXCEEDED when `deadline` passes
  // first.
  absl::StatusOr<skillsd::v1::ScoreResponse> Score(const skillsd::v1::ScoreRequest& request, absl::Time deadline);

  // The teacher's token sequence for one student sequence: SKILL_SLOT segments filled with `skill_tokens`.
  // Positions (into the result) of the GENERATED tokens are appended to `scored`, in order.
  static std::vector<int32_t> TeacherTokens(const skillsd::v1::TokenSequence& sequence,
                                            const std::vector<int32_t>& skill_tokens, std::vector<int64_t>* scored);

  int64_t queue_depth() const;
  int64_t version() const { return holder_->version(); }
  // Called when a newer snapshot was installed (wakes requests waiting for a version).
  void NotifyInstalled();

 private:
  struct Pending;
  void Run();
  void ScoreBatch(std::vector<Pending*>& batch);

  std::shared_ptr<weights::ModelHolder> holder_;
  const model::Tokenizer* tokenizer_;
  const model::ChatTemplate chat_;
  const TeacherOptions options_;
  mutable absl::Mutex mu_;
  BoundedQueue<Pending*> queue_;  // lock order: mu_, then the queue's own
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t installed_generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace skillsd::teacher

#endif  // SKILLSD_TEACHER_SERVER_TEACHER_H_
