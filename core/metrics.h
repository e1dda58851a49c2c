// Prometheus metrics for every process: one process-wide registry, an HTTP exposer serving /metrics, and process
// metrics (CPU, memory, file descriptors, threads, start time). No gRPC: domain libraries register their metrics
// here; the RPC interceptors are core/rpc_metrics.h.
//
// Naming follows Prometheus conventions: base units (_seconds, _bytes), counters end in _total, histograms
// rather than summaries, bounded label values (gRPC method names and status codes only).
//
// Thread-safe.
#ifndef SKILLSD_CORE_METRICS_H_
#define SKILLSD_CORE_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace skillsd {

// The process-wide registry every component registers its metrics in. Never null.
prometheus::Registry& MetricsRegistry();

// Exponential latency buckets from 100 µs to ~100 s, for RPC and phase timings.
prometheus::Histogram::BucketBoundaries LatencyBuckets();

// Serves the process-wide registry (plus process metrics) over HTTP at /metrics, for the rest of the process's
// life: one registry per process, so one endpoint per process. The first call binds `address` ("0.0.0.0:9100",
// IPv4; port 0 picks a free port); later calls return the same endpoint's port whatever their address, which
// suits tests that start several servers in one process. The endpoint is never stopped (a process has no reason
// to stop serving metrics before it exits), so a drain is not slowed by it. Fails with UNAVAILABLE when it
// cannot bind.
absl::StatusOr<int> StartProcessMetricsServer(const std::string& address);

}  // namespace skillsd

#endif  // SKILLSD_CORE_METRICS_H_
