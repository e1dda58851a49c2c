// The one shim between absl::Status (used by all domain code) and grpc::Status (used by service adapters and
// clients). Codes are numerically identical in both; messages pass through unchanged.
#ifndef SKILLSD_CORE_GRPC_STATUS_H_
#define SKILLSD_CORE_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace skillsd {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace skillsd

#endif  // SKILLSD_CORE_GRPC_STATUS_H_
