// skillsd-env's gRPC service: many Env sessions per process, stepped one at a time or in batches. One bad
// request never affects other sessions; idle sessions expire.
#ifndef SKILLSD_ENV_WORKERS_ENV_SERVICE_H_
#define SKILLSD_ENV_WORKERS_ENV_SERVICE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "env_workers/env.h"
#include "skillsd/v1/env.grpc.pb.h"

namespace skillsd {

struct EnvServiceOptions {
  int max_sessions = 4096;                          // CreateSession beyond: RESOURCE_EXHAUSTED
  absl::Duration idle_timeout = absl::Minutes(10);  // sessions unused this long are closed
  int max_batch_size = 1024;                        // BatchStep beyond: INVALID_ARGUMENT
};

// Makes a fresh Env for a new session. Must be thread-safe.
using EnvFactory = std::function<std::unique_ptr<Env>()>;

// Thread-safe: calls on different sessions run in parallel; calls on one session are serialised.
class EnvServiceImpl final : public skillsd::v1::EnvService::Service {
 public:
  EnvServiceImpl(EnvFactory factory, EnvServiceOptions options);

  grpc::Status GetSpec(grpc::ServerContext* context, const skillsd::v1::GetSpecRequest* request,
                       skillsd::v1::GetSpecResponse* response) override;
  grpc::Status CreateSession(grpc::ServerContext* context, const skillsd::v1::CreateSessionRequest* request,
                             skillsd::v1::CreateSessionResponse* response) override;
  grpc::Status Reset(grpc::ServerContext* context, const skillsd::v1::ResetRequest* request,
                     skillsd::v1::ResetResponse* response) override;
  grpc::Status Step(grpc::ServerContext* context, const skillsd::v1::StepRequest* request,
                    skillsd::v1::StepResponse* response) override;
  grpc::Status BatchStep(grpc::ServerContext* context, const skillsd::v1::BatchStepRequest* request,
                         skillsd::v1::BatchStepResponse* response) override;
  grpc::Status CloseSession(grpc::ServerContext* context, const skillsd::v1::CloseSessionRequest* request,
                            skillsd::v1::CloseSessionResponse* response) override;

  // The same handlers without gRPC plumbing (also what the fuzz target drives).
  absl::Status HandleBatchStep(const skillsd::v1::BatchStepRequest& request, skillsd::v1::BatchStepResponse* response);
  absl::Status HandleCreateSession(const skillsd::v1::CreateSessionRequest& request,
                                   skillsd::v1::CreateSessionResponse* response);

  int64_t num_sessions() const;
  // Closes sessions idle for longer than the timeout; returns how many. Also runs on every CreateSession.
  int ExpireIdleSessions(absl::Time now);

 private:
  struct Session {
    absl::Mutex mu;
    std::unique_ptr<Env> env ABSL_GUARDED_BY(mu);
    EnvTask task ABSL_GUARDED_BY(mu);                       // of the current episode
    bool with_optimal_actions ABSL_GUARDED_BY(mu) = false;  // of the current episode
    std::atomic<int64_t> last_used_ns{0};
  };

  absl::StatusOr<std::shared_ptr<Session>> Find(const std::string& session_id);
  absl::Status StepSession(const skillsd::v1::StepRequest& request, skillsd::v1::Observation* observation);

  const EnvFactory factory_;
  const EnvServiceOptions options_;
  EnvSpec spec_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> next_session_{0};
  std::atomic<int64_t> last_sweep_ns_{0};
  const uint64_t session_salt_;
};

}  // namespace skillsd

#endif  // SKILLSD_ENV_WORKERS_ENV_SERVICE_H_
