// The learner's Prometheus series (names in docs/learner.md), registered once in the process-wide registry.
#ifndef SKILLSD_LEARNER_LEARNER_METRICS_H_
#define SKILLSD_LEARNER_LEARNER_METRICS_H_

#include "core/metrics.h"

namespace skillsd::learner {

struct LearnerMetrics {
  prometheus::Gauge& version;
  prometheus::Counter& steps;
  prometheus::Counter& tokens;
  prometheus::Family<prometheus::Gauge>& loss;
  prometheus::Family<prometheus::Gauge>& stat;
  prometheus::Family<prometheus::Histogram>& phase;
  prometheus::Family<prometheus::Counter>& groups;
  prometheus::Gauge& queued;
  prometheus::Gauge& teacher_version;
  prometheus::Gauge& policy_lag;
  prometheus::Gauge& total_steps;

  static LearnerMetrics& Get() {
    static LearnerMetrics* m = [] {
      auto& registry = MetricsRegistry();
      return new LearnerMetrics{
          prometheus::BuildGauge()
              .Name("skillsd_learner_policy_version")
              .Help("Policy version (learner steps).")
              .Register(registry)
              .Add({}),
          prometheus::BuildCounter()
              .Name("skillsd_learner_steps_total")
              .Help("Learner steps taken.")
              .Register(registry)
              .Add({}),
          prometheus::BuildCounter()
              .Name("skillsd_learner_tokens_total")
              .Help("Loss tokens trained on (all epochs).")
              .Register(registry)
              .Add({}),
          prometheus::BuildGauge()
              .Name("skillsd_learner_loss")
              .Help("Loss terms of the last step, by term.")
              .Register(registry),
          prometheus::BuildGauge()
              .Name("skillsd_learner_stat")
              .Help("Statistics of the last step (clip fraction, ratio, rho, KL, grad norm, learning rate, tokens/s).")
              .Register(registry),
          prometheus::BuildHistogram()
              .Name("skillsd_learner_phase_seconds")
              .Help("Time per learner step phase.")
              .Register(registry),
          prometheus::BuildCounter()
              .Name("skillsd_learner_groups_total")
              .Help("Submitted groups, by disposition.")
              .Register(registry),
          prometheus::BuildGauge()
              .Name("skillsd_learner_groups_queued")
              .Help("Groups waiting for training.")
              .Register(registry)
              .Add({}),
          prometheus::BuildGauge()
              .Name("skillsd_learner_teacher_version")
              .Help("Newest version pushed to the teacher.")
              .Register(registry)
              .Add({}),
          prometheus::BuildGauge()
              .Name("skillsd_learner_policy_lag")
              .Help("Mean versions between a trained group's policy and the learner's.")
              .Register(registry)
              .Add({}),
          prometheus::BuildGauge()
              .Name("skillsd_learner_total_steps")
              .Help("Steps this run trains for (learner.total_steps).")
              .Register(registry)
              .Add({}),
      };
    }();
    return *m;
  }
  void Phase(const char* name, double seconds) { phase.Add({{"phase", name}}, LatencyBuckets()).Observe(seconds); }
};

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_LEARNER_METRICS_H_
