// EnvBatch over env workers (skillsd-env): one session per slot, created on the first Reset and reused; a turn
// of every live slot is one BatchStep call. Sessions are closed on destruction.
#ifndef SKILLSD_ACTOR_REMOTE_ENV_H_
#define SKILLSD_ACTOR_REMOTE_ENV_H_

#include <memory>
#include <string>
#include <vector>

#include "actor/rollout.h"
#include "skillsd/v1/env.grpc.pb.h"

namespace skillsd::actor {

// Not thread-safe (an EnvBatch has one caller); the stub may be shared.
class RemoteEnvBatch : public EnvBatch {
 public:
  // Fetches the spec (GetSpec) once.
  static absl::StatusOr<std::unique_ptr<RemoteEnvBatch>> Create(
      std::shared_ptr<skillsd::v1::EnvService::StubInterface> stub, size_t slots, absl::Duration rpc_timeout);
  ~RemoteEnvBatch() override;

  const EnvSpec& spec() const override { return spec_; }
  size_t size() const override { return sessions_.size(); }
  absl::StatusOr<EnvTurn> Reset(size_t slot, const EnvTask& task) override;
  absl::StatusOr<std::vector<EnvTurn>> Step(const std::vector<size_t>& slots,
                                            const std::vector<std::string>& answers) override;

 private:
  RemoteEnvBatch(std::shared_ptr<skillsd::v1::EnvService::StubInterface> stub, size_t slots, absl::Duration timeout)
      : stub_(std::move(stub)), sessions_(slots), timeout_(timeout) {}

  std::shared_ptr<skillsd::v1::EnvService::StubInterface> stub_;
  EnvSpec spec_;
  std::vector<std::string> sessions_;  // "" = not created yet
  const absl::Duration timeout_;
};

}  // namespace skillsd::actor

#endif  // SKILLSD_ACTOR_REMOTE_ENV_H_
