// Prometheus metrics of weight distribution, on both sides (internal to weights/).
#ifndef SKILLSD_WEIGHTS_WEIGHTS_METRICS_H_
#define SKILLSD_WEIGHTS_WEIGHTS_METRICS_H_

#include <string>

#include "core/metrics.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "skillsd/v1/weights.pb.h"

namespace skillsd::weights {

struct WeightsMetrics {
  // Learner side (WeightsService), by subscriber role.
  prometheus::Family<prometheus::Counter>& snapshots_sent;
  prometheus::Family<prometheus::Counter>& bytes_sent;
  prometheus::Family<prometheus::Counter>& send_failures;
  prometheus::Family<prometheus::Histogram>& send_seconds;
  // Subscriber side (actor, teacher).
  prometheus::Family<prometheus::Counter>& installed;
  prometheus::Family<prometheus::Counter>& rejected;
  prometheus::Family<prometheus::Gauge>& installed_version;

  static WeightsMetrics& Get() {
    static WeightsMetrics* m = [] {
      auto& r = MetricsRegistry();
      return new WeightsMetrics{
          prometheus::BuildCounter()
              .Name("skillsd_weights_snapshots_sent_total")
              .Help("Snapshots streamed to subscribers in full, by role.")
              .Register(r),
          prometheus::BuildCounter()
              .Name("skillsd_weights_sent_bytes_total")
              .Help("Snapshot payload bytes streamed to subscribers, by role.")
              .Register(r),
          prometheus::BuildCounter()
              .Name("skillsd_weights_send_failures_total")
              .Help("Snapshot streams cut before the last chunk (subscriber gone or slow), by role.")
              .Register(r),
          prometheus::BuildHistogram()
              .Name("skillsd_weights_send_seconds")
              .Help("Time to stream one snapshot to one subscriber, by role.")
              .Register(r),
          prometheus::BuildCounter()
              .Name("skillsd_weights_installed_total")
              .Help("Snapshots verified and installed by this subscriber, by role.")
              .Register(r),
          prometheus::BuildCounter()
              .Name("skillsd_weights_rejected_total")
              .Help("Snapshots rejected by this subscriber (corrupt, mis-shaped, failed install), by role.")
              .Register(r),
          prometheus::BuildGauge()
              .Name("skillsd_weights_installed_version")
              .Help("Newest installed snapshot version, by role (-1 before the first).")
              .Register(r),
      };
    }();
    return *m;
  }

  static std::string Role(skillsd::v1::SubscriberRole role) {
    return role == skillsd::v1::SUBSCRIBER_ROLE_TEACHER ? "teacher" : "actor";
  }
};

}  // namespace skillsd::weights

#endif  // SKILLSD_WEIGHTS_WEIGHTS_METRICS_H_
