// libFuzzer target: the env service's request handlers (CreateSession, BatchStep) on arbitrary request bytes.
// Whatever arrives, the handlers answer with a status and the service stays consistent: every BatchStep
// answer has one result per item, and the open sessions stay within the limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/config.h"
#include "env_workers/env_config.h"
#include "env_workers/env_service.h"

namespace {

skillsd::EnvServiceImpl& Service() {
  static skillsd::EnvServiceImpl* service = [] {
    auto levels = *skillsd::BuildLevelSet(skillsd::EnvConfig());
    const auto options = skillsd::SokobanEnvOptionsFromConfig(skillsd::EnvConfig());
    skillsd::EnvServiceOptions service_options;
    service_options.max_sessions = 16;
    service_options.max_batch_size = 64;
    return new skillsd::EnvServiceImpl(
        [levels, options] { return std::make_unique<skillsd::sokoban::SokobanEnv>(levels, options); }, service_options);
  }();
  return *service;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  skillsd::EnvServiceImpl& service = Service();
  if (size == 0) return 0;
  const uint8_t kind = data[0];
  ++data;
  --size;
  if (kind % 2 == 0) {
    skillsd::v1::CreateSessionRequest request;
    if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
    skillsd::v1::CreateSessionResponse response;
    (void)service.HandleCreateSession(request, &response);
  } else {
    skillsd::v1::BatchStepRequest request;
    if (!request.ParseFromArray(data, static_cast<int>(size))) {
      // Not a request: use the bytes as an answer to the first sessions "s0-..." are unknown ids; still valid.
      request.add_steps()->set_answer(std::string(reinterpret_cast<const char*>(data), size));
    }
    skillsd::v1::BatchStepResponse response;
    const absl::Status status = service.HandleBatchStep(request, &response);
    if (status.ok() && response.results_size() != request.steps_size()) std::abort();
  }
  if (service.num_sessions() > 16) std::abort();
  return 0;
}
