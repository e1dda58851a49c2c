// What one learner step did, as the dashboards (Prometheus series) and metrics.csv record it.
#ifndef SKILLSD_LEARNER_STEP_REPORT_H_
#define SKILLSD_LEARNER_STEP_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "learner/trainer.h"
#include "skillsd/v1/rollout.pb.h"

namespace skillsd::learner {

// What a step's groups say about play, and the skill diagnostics of those that carried a skill
// (actor/skill_diagnostics.h), summed.
struct GroupsSummary {
  int64_t episodes = 0, solved = 0, turns = 0, invalid_actions = 0;
  skillsd::v1::SkillDiagnostics skill;

  // The named rates of metrics.csv's last columns, in order; nullopt where nothing was measured.
  std::vector<std::pair<const char*, std::optional<double>>> Rates() const;
};
GroupsSummary SummarizeGroups(const std::vector<skillsd::v1::Group>& groups);

struct StepReport {
  int64_t version = 0;  // the policy version the step made
  StepStats stats;
  double policy_lag = 0;  // mean (version trained on - policy version of each group)
  double wait_s = 0;      // waiting for the step's groups
  double publish_s = 0, checkpoint_s = 0;
  std::string trained_group_ids;  // ";"-joined: metrics.csv's audit column
  int64_t queued = 0;             // groups waiting in the intake after the step
  int64_t teacher_version = 0;    // the newest version pushed to the teacher
  GroupsSummary groups;
};

// Sets the learner's step series (learner/learner_metrics.h).
void RecordStepMetrics(const StepReport& report);

// Appends the step as one line of metrics.csv at `path` (the header first when the file is new). Best effort:
// a write failure is logged and the step is not undone.
void AppendStepCsv(const std::string& path, const StepReport& report);

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_STEP_REPORT_H_
