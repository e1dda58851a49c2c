// The server skeleton and channel factory, in one process over real loopback gRPC: TLS, mutual TLS, bearer
// tokens, message-size limits, retries of idempotent methods only, default deadlines, health and metrics.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "core/channel.h"
#include "core/file_util.h"
#include "core/server.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "skillsd/v1/env.grpc.pb.h"
#include "skillsd/v1/env_mock.grpc.pb.h"
#include "tests/test_service.h"
#include "tests/test_util.h"

namespace skillsd {
namespace {

using ::skillsd::testing::StatusIs;
using ::testing::HasSubstr;

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new std::string(testing::MakeTempDir());
    ASSERT_OK(testing::GenerateCertificates(*pki_));
    ASSERT_OK(WriteFileAtomically(Pki("token"), "correct-token\n"));
    ASSERT_OK(WriteFileAtomically(Pki("wrong_token"), "wrong-token\n"));
  }
  static std::string Pki(const std::string& name) { return absl::StrCat(*pki_, "/", name); }

  ServerOptions BaseOptions() {
    ServerOptions o;
    o.name = "test";
    o.address = "127.0.0.1:0";
    o.metrics_address = "127.0.0.1:0";
    o.drain_grace = absl::ZeroDuration();
    return o;
  }
  ServerOptions TlsOptions() {
    ServerOptions o = BaseOptions();
    o.tls_cert_file = Pki("server.pem");
    o.tls_key_file = Pki("server.key");
    return o;
  }

  void StartServer(const ServerOptions& options) {
    auto server = GrpcServer::Start(options, {&service_});
    ASSERT_OK(server);
    server_ = std::move(server).value();
  }

  std::string Target() { return absl::StrCat("127.0.0.1:", server_->port()); }

  // One Step call through a channel made with `options`.
  grpc::Status Step(const ChannelOptions& options, const std::string& answer = "hi",
                    skillsd::v1::StepResponse* response = nullptr) {
    auto channel = CreateChannel(Target(), options, {DescriptorOf<skillsd::v1::EnvService>()});
    if (!channel.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, std::string(channel.status().message()));
    auto stub = skillsd::v1::EnvService::NewStub(*channel);
    grpc::ClientContext context;
    SetDeadline(&context, absl::Seconds(10));
    skillsd::v1::StepRequest request;
    request.set_answer(answer);
    skillsd::v1::StepResponse local;
    return stub->Step(&context, request, response ? response : &local);
  }

  ChannelOptions TlsClient() {
    ChannelOptions c;
    c.tls_ca_file = Pki("ca.pem");
    return c;
  }

  static std::string* pki_;
  testing::TestEnvService service_;
  std::unique_ptr<GrpcServer> server_;
};

std::string* ServerTest::pki_ = nullptr;

TEST_F(ServerTest, PlaintextServesAndAnswersHealth) {
  StartServer(BaseOptions());
  EXPECT_TRUE(Step({}).ok());
  auto channel = CreateChannel(Target(), {}, {DescriptorOf<grpc::health::v1::Health>()});
  ASSERT_OK(channel);
  auto health = grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, {}, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(ServerTest, TlsAcceptsVerifiedClientsOnly) {
  StartServer(TlsOptions());
  EXPECT_TRUE(Step(TlsClient()).ok());
  // Plaintext client against a TLS server.
  EXPECT_EQ(Step({}).error_code(), grpc::StatusCode::UNAVAILABLE);
  // Client trusting another CA.
  ChannelOptions rogue;
  rogue.tls_ca_file = Pki("rogue_ca.pem");
  EXPECT_EQ(Step(rogue).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServerTest, MutualTlsRefusesClientsWithoutCertificate) {
  ServerOptions o = TlsOptions();
  o.tls_ca_file = Pki("ca.pem");
  o.tls_require_client_cert = true;
  StartServer(o);
  ChannelOptions with_cert = TlsClient();
  with_cert.tls_cert_file = Pki("client.pem");
  with_cert.tls_key_file = Pki("client.key");
  EXPECT_TRUE(Step(with_cert).ok());
  EXPECT_EQ(Step(TlsClient()).error_code(), grpc::StatusCode::UNAVAILABLE);
  ChannelOptions rogue_cert = TlsClient();
  rogue_cert.tls_cert_file = Pki("rogue_client.pem");
  rogue_cert.tls_key_file = Pki("rogue_client.key");
  EXPECT_EQ(Step(rogue_cert).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(service_.steps_finished.load(), 1);
}

TEST_F(ServerTest, TokenAuth) {
  ServerOptions o = TlsOptions();
  o.token_file = Pki("token");
  StartServer(o);
  ChannelOptions good = TlsClient();
  good.token_file = Pki("token");
  EXPECT_TRUE(Step(good).ok());
  grpc::Status missing = Step(TlsClient());
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED) << missing.error_message();
  ChannelOptions wrong = TlsClient();
  wrong.token_file = Pki("wrong_token");
  EXPECT_EQ(Step(wrong).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(service_.steps_finished.load(), 1);
}

TEST_F(ServerTest, TokenWithoutTlsIsRefusedAtStart) {
  ServerOptions o = BaseOptions();
  o.token_file = Pki("token");
  EXPECT_THAT(GrpcServer::Start(o, {&service_}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs TLS")));
  ChannelOptions c;
  c.token_file = Pki("token");
  EXPECT_THAT(CreateChannel("127.0.0.1:1", c, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs TLS")));
}

TEST_F(ServerTest, BadTlsFilesAreClearErrors) {
  ServerOptions o = TlsOptions();
  o.tls_key_file = Pki("missing.key");
  EXPECT_THAT(GrpcServer::Start(o, {&service_}), StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.key")));
  o = TlsOptions();
  o.tls_require_client_cert = true;
  EXPECT_THAT(GrpcServer::Start(o, {&service_}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls_ca_file")));
}

TEST_F(ServerTest, OversizeMessagesAreRejectedAndServerKeepsServing) {
  ServerOptions o = BaseOptions();
  o.max_message_bytes = 1 << 20;
  StartServer(o);
  ChannelOptions big_client;
  big_client.max_message_bytes = 8 << 20;
  // Request over the server's limit.
  grpc::Status too_big = Step(big_client, std::string(2 << 20, 'a'));
  EXPECT_EQ(too_big.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << too_big.error_message();
  // Response over the server's send limit.
  EXPECT_EQ(Step(big_client, "big:2000000").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Response over the client's receive limit.
  ChannelOptions small_client;
  small_client.max_message_bytes = 1000;
  EXPECT_EQ(Step(small_client, "big:5000").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Still serving.
  skillsd::v1::StepResponse response;
  ASSERT_TRUE(Step(big_client, std::string(1000, 'a'), &response).ok());
  EXPECT_EQ(response.observation().text(), "1000");
}

TEST_F(ServerTest, RetriesUnavailableOnlyOnIdempotentMethods) {
  StartServer(BaseOptions());
  auto channel = CreateChannel(Target(), {}, {DescriptorOf<skillsd::v1::EnvService>()});
  ASSERT_OK(channel);
  auto stub = skillsd::v1::EnvService::NewStub(*channel);

  service_.unavailable_budget = 2;
  {
    grpc::ClientContext context;
    skillsd::v1::GetSpecResponse response;
    ASSERT_TRUE(stub->GetSpec(&context, {}, &response).ok());  // idempotent: retried
    EXPECT_EQ(response.env(), "test");
  }
  EXPECT_EQ(service_.get_spec_calls.load(), 3);

  service_.unavailable_budget = 1;
  {
    grpc::ClientContext context;
    skillsd::v1::CreateSessionResponse response;
    EXPECT_EQ(stub->CreateSession(&context, {}, &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  EXPECT_EQ(service_.create_calls.load(), 1);  // not idempotent: not retried
}

TEST_F(ServerTest, DefaultDeadlineApplies) {
  StartServer(BaseOptions());
  ChannelOptions c;
  c.default_deadline = absl::Milliseconds(200);
  auto channel = CreateChannel(Target(), c, {DescriptorOf<skillsd::v1::EnvService>()});
  ASSERT_OK(channel);
  auto stub = skillsd::v1::EnvService::NewStub(*channel);
  grpc::ClientContext context;  // no explicit deadline
  skillsd::v1::StepRequest request;
  request.set_answer("sleep:3000");
  skillsd::v1::StepResponse response;
  const absl::Time start = absl::Now();
  EXPECT_EQ(stub->Step(&context, request, &response).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST_F(ServerTest, ServiceConfigMarksOnlyIdempotentMethodsForRetry) {
  const std::string json = ServiceConfigJson({DescriptorOf<skillsd::v1::EnvService>()}, {});
  // GetSpec and CloseSession are idempotent; Step is not.
  const size_t retry_block = json.find("retryPolicy");
  ASSERT_NE(retry_block, std::string::npos);
  const std::string retried = json.substr(0, retry_block);
  EXPECT_THAT(retried, HasSubstr("\"GetSpec\""));
  EXPECT_THAT(retried, HasSubstr("\"CloseSession\""));
  EXPECT_THAT(retried, ::testing::Not(HasSubstr("\"Step\"")));
  EXPECT_THAT(json.substr(retry_block), HasSubstr("\"Step\""));
}

// The value of one sample line of an exposition, 0 when absent.
double Sample(const std::string& exposition, const std::string& series) {
  const size_t at = exposition.find(series + " ");
  if (at == std::string::npos) return 0;
  return std::atof(exposition.c_str() + at + series.size() + 1);
}

TEST_F(ServerTest, MetricsPassPromtoolAndCountRpcs) {
  StartServer(BaseOptions());
  const std::string ok_steps =
      "skillsd_rpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Step\",grpc_service=\"skillsd.v1.EnvService\"}";
  const std::string exhausted_steps =
      "skillsd_rpc_client_handled_total{grpc_code=\"RESOURCE_EXHAUSTED\",grpc_method=\"Step\","
      "grpc_service=\"skillsd.v1.EnvService\"}";
  ASSERT_OK_AND_ASSIGN(std::string before, testing::HttpGet(server_->metrics_port(), "/metrics"));
  ASSERT_TRUE(Step({}).ok());
  ASSERT_TRUE(Step({}, std::string(100, 'a')).ok());
  ChannelOptions small;
  small.max_message_bytes = 100;
  EXPECT_EQ(Step(small, "big:1000").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  auto body = testing::HttpGet(server_->metrics_port(), "/metrics");
  ASSERT_OK(body);
  EXPECT_EQ(Sample(*body, ok_steps) - Sample(before, ok_steps), 3);  // the server sent the big one fine
  EXPECT_EQ(Sample(*body, exhausted_steps) - Sample(before, exhausted_steps), 1);
  EXPECT_THAT(*body, HasSubstr("skillsd_rpc_client_handled_total"));
  EXPECT_THAT(*body, HasSubstr("skillsd_rpc_server_handling_seconds_bucket"));
  EXPECT_THAT(*body, HasSubstr("process_resident_memory_bytes"));
  EXPECT_THAT(*body, HasSubstr("process_open_fds"));
  const std::string path = testing::MakeTempDir() + "/metrics.txt";
  ASSERT_OK(WriteFileAtomically(path, *body));
  testing::CommandResult check = testing::RunCommand("promtool check metrics < " + path);
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

// Slow and half-open clients do not hold up a scrape (the endpoint used to serve one connection at a time, with a
// 2 s read timeout each: 18 such clients blinded it for 6-7 s). Every connection is polled at once, one idle for
// 3 s is closed, and at most 64 are open at a time.
TEST_F(ServerTest, MetricsAnswerWhileSlowClientsHoldConnections) {
  StartServer(BaseOptions());
  const int port = server_->metrics_port();
  std::vector<int> slow;
  for (int i = 0; i < 18; ++i) {  // half a request each, then nothing
    ASSERT_OK_AND_ASSIGN(int fd, testing::ConnectLoopback(port));
    ASSERT_EQ(::write(fd, "GET /metr", 9), 9);
    slow.push_back(fd);
  }
  const int silent = testing::ConnectLoopback(port).value_or(-1);  // connected, sends nothing at all
  ASSERT_GE(silent, 0);
  slow.push_back(silent);
  const absl::Time start = absl::Now();
  ASSERT_OK_AND_ASSIGN(std::string body, testing::HttpGet(port, "/metrics"));
  EXPECT_THAT(body, HasSubstr("process_resident_memory_bytes"));
  // Answered without waiting for any slow client to time out (3 s).
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  // The idle connections are closed by the server: each reads end-of-file (or a reset), none hangs.
  for (int fd : slow) {
    timeval timeout{15, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    char c;
    const ssize_t n = ::read(fd, &c, 1);
    EXPECT_TRUE(n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) << "read " << n << " errno " << errno;
    ::close(fd);
  }
  EXPECT_OK(testing::HttpGet(port, "/metrics").status());
  // Anything but GET /metrics is refused.
  EXPECT_THAT(testing::HttpGet(port, "/other"), StatusIs(absl::StatusCode::kInternal, HasSubstr("404")));
}

TEST_F(ServerTest, HealthOnlyPortIsPlaintextAndFollowsDrain) {
  ServerOptions o = TlsOptions();
  o.token_file = Pki("token");
  o.health_address = "127.0.0.1:0";
  StartServer(o);
  auto channel =
      CreateChannel(absl::StrCat("127.0.0.1:", server_->health_port()), {}, {DescriptorOf<grpc::health::v1::Health>()});
  ASSERT_OK(channel);
  auto health = grpc::health::v1::Health::NewStub(*channel);
  {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, {}, &response).ok());
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  server_->SetServing(false);
  {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, {}, &response).ok());
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  }
  // The health-only port serves nothing else.
  auto env_channel =
      CreateChannel(absl::StrCat("127.0.0.1:", server_->health_port()), {}, {DescriptorOf<skillsd::v1::EnvService>()});
  ASSERT_OK(env_channel);
  auto stub = skillsd::v1::EnvService::NewStub(*env_channel);
  grpc::ClientContext context;
  skillsd::v1::StepResponse response;
  EXPECT_EQ(stub->Step(&context, {}, &response).error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

// The generated gMock stubs let client code be tested without a server.
TEST(MockStubTest, GeneratedMocksWork) {
  skillsd::v1::MockEnvServiceStub stub;
  EXPECT_CALL(stub, Step(::testing::_, ::testing::_, ::testing::_))
      .WillOnce([](grpc::ClientContext*, const skillsd::v1::StepRequest& request, skillsd::v1::StepResponse* response) {
        response->mutable_observation()->set_text(request.answer());
        return grpc::Status::OK;
      });
  skillsd::v1::EnvService::StubInterface& client = stub;
  grpc::ClientContext context;
  skillsd::v1::StepRequest request;
  request.set_answer("<answer>Up</answer>");
  skillsd::v1::StepResponse response;
  ASSERT_TRUE(client.Step(&context, request, &response).ok());
  EXPECT_EQ(response.observation().text(), "<answer>Up</answer>");
}

}  // namespace
}  // namespace skillsd
