// EnvBatch over env workers (skillsd-env, or any EnvService): one session per slot, created on the first Reset and
// reused; a turn of every live slot is one BatchStep call, or several of the worker's max_batch_size. Sessions are
// closed on destruction.
#ifndef SKILLSD_ACTOR_REMOTE_ENV_H_
#define SKILLSD_ACTOR_REMOTE_ENV_H_

#include <memory>
#include <string>
#include <vector>

#include "actor/clients.h"
#include "actor/rollout.h"

namespace skillsd::actor {

// Not thread-safe (an EnvBatch has one caller); the client's stub may be shared.
class RemoteEnvBatch : public EnvBatch {
 public:
  // Fetches the spec (GetSpec) once. Every call has the client's deadline.
  static absl::StatusOr<std::unique_ptr<RemoteEnvBatch>> Create(EnvClient env, size_t slots);
  ~RemoteEnvBatch() override;

  const EnvSpec& spec() const override { return spec_; }
  size_t size() const override { return sessions_.size(); }
  absl::StatusOr<EnvTurn> Reset(size_t slot, const EnvTask& task, bool with_optimal_actions) override;
  absl::StatusOr<std::vector<EnvTurn>> Step(const std::vector<size_t>& slots,
                                            const std::vector<std::string>& answers) override;

 private:
  RemoteEnvBatch(EnvClient env, size_t slots) : env_(std::move(env)), sessions_(slots) {}

  const EnvClient env_;
  EnvSpec spec_;
  size_t max_batch_size_ = 0;  // the worker's (GetSpec); a Step of more slots is sent in several BatchStep calls
  std::vector<std::string> sessions_;  // "" = not created yet
};

}  // namespace skillsd::actor

#endif  // SKILLSD_ACTOR_REMOTE_ENV_H_
