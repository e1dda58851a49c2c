// The one way skillsd clients open channels: TLS / mutual TLS from PEM files, a bearer token from a file,
// message-size limits, keepalive, per-RPC metrics, and a service config generated from the proto contract:
// every unary method gets a default deadline, and methods marked `option (skillsd.v1.idempotent) = true` are
// retried on UNAVAILABLE (only that code, with exponential backoff). Everything else reaches the caller as is.
//
//   ASSIGN_OR_RETURN(auto channel, CreateChannel(address, options, {skillsd::v1::EnvService::descriptor()}));
//   auto stub = skillsd::v1::EnvService::NewStub(channel);
//   grpc::ClientContext context;
//   SetDeadline(&context, absl::Seconds(5));   // per-call deadlines override the default
#ifndef SKILLSD_CORE_CHANNEL_H_
#define SKILLSD_CORE_CHANNEL_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace google::protobuf {
class ServiceDescriptor;
}

namespace skillsd {

struct ChannelOptions {
  // TLS is on when tls_ca_file is set (it verifies the server). cert+key add a client certificate (mTLS).
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // Expected server name in its certificate when it differs from the target's host.
  std::string tls_server_name;
  // Bearer token file (first line); needs TLS.
  std::string token_file;
  int max_message_bytes = 64 << 20;
  // Deadline of unary calls that set none themselves. Streaming calls get none by default.
  absl::Duration default_deadline = absl::Seconds(30);
  int keepalive_time_ms = 20000;
  // Attempts (first try included) for idempotent methods failing with UNAVAILABLE; 1 = no retry.
  int max_attempts = 5;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
};

// The service config JSON for `services` (exposed for tests and debugging).
std::string ServiceConfigJson(const std::vector<const google::protobuf::ServiceDescriptor*>& services,
                              const ChannelOptions& options);

// Opens a channel to `target` ("host:port", or any gRPC target URI). Fails when TLS or token files cannot be
// read or the options are inconsistent (a token without TLS). Connection itself is lazy.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(
    const std::string& target, const ChannelOptions& options,
    const std::vector<const google::protobuf::ServiceDescriptor*>& services);

// The descriptor of a generated gRPC service class (skillsd::v1::EnvService, grpc::health::v1::Health, ...).
const google::protobuf::ServiceDescriptor* ServiceDescriptorByName(const std::string& full_name);
template <typename GrpcService>
const google::protobuf::ServiceDescriptor* DescriptorOf() {
  return ServiceDescriptorByName(GrpcService::service_full_name());
}

// Sets the call's deadline to now + timeout.
void SetDeadline(grpc::ClientContext* context, absl::Duration timeout);

}  // namespace skillsd

#endif  // SKILLSD_CORE_CHANNEL_H_
