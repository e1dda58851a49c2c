// The skill bank: per-task skills with provenance and bandit statistics, the trajectories waiting to be
// summarised, and the idempotency records of selections and outcomes — all in one SQLite database in WAL mode,
// so whatever was acknowledged survives a crash or restart. UCB1 selection (SPEC §4): never-tried skills first
// (oldest first), then the highest R̄(e) + c·sqrt(ln N_task / n(e)). Thread-safe.
#ifndef SKILLSD_SKILL_SERVICE_SKILL_BANK_H_
#define SKILLSD_SKILL_SERVICE_SKILL_BANK_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "skillsd/v1/skill.pb.h"

struct sqlite3;

namespace skillsd::skill {

enum class Credit { kNextGroup, kSameGroup };

class SkillBank {
 public:
  // Opens (creating if needed) the database at `path` (":memory:" for tests).
  static absl::StatusOr<std::unique_ptr<SkillBank>> Open(const std::string& path, double ucb_c, Credit credit,
                                                         int max_skills_per_task);
  ~SkillBank();

  // Persists trajectories for summarising; returns the indices of those that were new (ids seen before, in the
  // database or earlier in `trajectories`, are skipped).
  absl::StatusOr<std::vector<size_t>> EnqueueTrajectories(const std::vector<skillsd::v1::Trajectory>& trajectories);
  // Trajectories not yet summarised, oldest first (after a restart: the queue to resume).
  absl::StatusOr<std::vector<skillsd::v1::Trajectory>> PendingTrajectories();
  // Marks a trajectory summarised: adds `skill` (unless an identical skill for the task exists or the task is
  // at capacity) in the same transaction. Returns whether a skill was added.
  absl::StatusOr<bool> CompleteTrajectory(const skillsd::v1::Trajectory& trajectory,
                                          const skillsd::v1::SkillContent* skill, const std::string& summarizer,
                                          const std::string& summarizer_model, bool failed);

  // UCB1 pick for `task_id`; the same selection_id returns the first answer. An empty bank returns no skill.
  absl::StatusOr<skillsd::v1::SelectSkillResponse> Select(const std::string& task_id, const std::string& selection_id);
  // Credits a group's outcome (once per group_id) per the credit rule.
  absl::Status ReportOutcome(const skillsd::v1::ReportOutcomeRequest& request);
  absl::StatusOr<std::vector<skillsd::v1::Skill>> List(const std::string& task_id, int limit);
  absl::StatusOr<skillsd::v1::GetSkillStatusResponse> Status();

 private:
  SkillBank(sqlite3* db, double ucb_c, Credit credit, int max_skills_per_task)
      : db_(db), ucb_c_(ucb_c), credit_(credit), max_skills_per_task_(max_skills_per_task) {}
  absl::Status Exec(const std::string& sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AddCredit(const std::string& skill_id, double reward) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  sqlite3* db_ ABSL_GUARDED_BY(mu_);
  const double ucb_c_;
  const Credit credit_;
  const int max_skills_per_task_;
};

}  // namespace skillsd::skill

#endif  // SKILLSD_SKILL_SERVICE_SKILL_BANK_H_
