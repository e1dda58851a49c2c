// What one learner step did, as the dashboards (Prometheus series) and metrics.csv record it.
#ifndef SKILLSD_LEARNER_STEP_REPORT_H_
#define SKILLSD_LEARNER_STEP_REPORT_H_

#include <cstdint>
#include <string>

#include "learner/trainer.h"

namespace skillsd::learner {

struct StepReport {
  int64_t version = 0;  // the policy version the step made
  StepStats stats;
  double policy_lag = 0;  // mean (version trained on - policy version of each group)
  double wait_s = 0;      // waiting for the step's groups
  double publish_s = 0, checkpoint_s = 0;
  std::string trained_group_ids;  // ";"-joined: metrics.csv's audit column
  int64_t queued = 0;             // groups waiting in the intake after the step
  int64_t teacher_version = 0;    // the newest version pushed to the teacher
};

// Sets the learner's step series (learner/learner_metrics.h).
void RecordStepMetrics(const StepReport& report);

// Appends the step as one line of metrics.csv at `path` (the header first when the file is new). Best effort:
// a write failure is logged and the step is not undone.
void AppendStepCsv(const std::string& path, const StepReport& report);

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_STEP_REPORT_H_
