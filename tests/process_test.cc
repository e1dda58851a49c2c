// Real processes: SIGTERM drains a server with a call in flight; every service binary starts, answers health
// checks (through the `skillsd health` tool), serves /metrics that pass promtool, and exits cleanly; bad config
// files stop a binary with an error naming the key.
#include <signal.h>

#include <algorithm>
#include <future>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/channel.h"
#include "core/file_util.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "skillsd/v1/env.grpc.pb.h"
#include "tests/test_util.h"

namespace skillsd {
namespace {

using ::testing::HasSubstr;

struct Server {
  testing::Subprocess process;
  int port;
  int metrics_port;
  std::string log;
};

absl::StatusOr<Server> StartServer(const std::string& binary, std::vector<std::string> extra = {}) {
  const std::string dir = testing::MakeTempDir();
  std::vector<std::string> argv = {testing::BinaryPath(binary), "--host=127.0.0.1", "--port=0", "--metrics_port=0",
                                   absl::StrCat("--port_file=", dir, "/ports.json")};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const std::string log = dir + "/log.txt";
  auto process = testing::Subprocess::Start(argv, log);
  if (!process.ok()) return process.status();
  auto ports = testing::WaitForPortFile(dir + "/ports.json", absl::Seconds(20));
  if (!ports.ok()) {
    auto text = ReadFile(log);
    return absl::Status(ports.status().code(), absl::StrCat(ports.status().message(), "; log: ", text.value_or("")));
  }
  return Server{std::move(process).value(), (*ports)["grpc_port"], (*ports)["metrics_port"], log};
}

// A service binary as it runs in a deployment. The learner takes its training tasks from the env workers' spec, so
// it gets a real skillsd-env, started with the same TLS flags.
struct Service {
  std::unique_ptr<Server> env;  // the learner's env workers
  Server server;
};
absl::StatusOr<Service> StartService(const std::string& binary, std::vector<std::string> args) {
  std::unique_ptr<Server> env;
  if (binary == "skillsd-learner") {
    std::vector<std::string> env_args;
    for (const std::string& a : args) {
      if (absl::StartsWith(a, "--tls_") || absl::StartsWith(a, "--token_file")) env_args.push_back(a);
    }
    absl::StatusOr<Server> started = StartServer("skillsd-env", env_args);
    if (!started.ok()) return started.status();
    args.push_back(absl::StrCat("--env=127.0.0.1:", started->port));
    env = std::make_unique<Server>(std::move(started).value());
  }
  absl::StatusOr<Server> server = StartServer(binary, args);
  if (!server.ok()) return server.status();
  return Service{std::move(env), std::move(server).value()};
}

grpc::health::v1::HealthCheckResponse::ServingStatus Health(int port) {
  auto channel = CreateChannel(absl::StrCat("127.0.0.1:", port), {}, {DescriptorOf<grpc::health::v1::Health>()});
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext context;
  SetDeadline(&context, absl::Seconds(5));
  grpc::health::v1::HealthCheckResponse response;
  if (!stub->Check(&context, {}, &response).ok()) return grpc::health::v1::HealthCheckResponse::UNKNOWN;
  return response.status();
}

grpc::Status SlowStep(int port, int sleep_ms, std::string* text) {
  auto channel = CreateChannel(absl::StrCat("127.0.0.1:", port), {}, {DescriptorOf<skillsd::v1::EnvService>()});
  auto stub = skillsd::v1::EnvService::NewStub(*channel);
  grpc::ClientContext context;
  SetDeadline(&context, absl::Seconds(30));
  skillsd::v1::StepRequest request;
  request.set_answer(absl::StrCat("sleep:", sleep_ms));
  skillsd::v1::StepResponse response;
  grpc::Status status = stub->Step(&context, request, &response);
  *text = response.observation().text();
  return status;
}

TEST(DrainTest, SigtermFinishesInFlightCall) {
  ASSERT_OK_AND_ASSIGN(Server server, StartServer("../tests/skillsd-test-server",
                                                  {"--drain_grace_ms=400", "--shutdown_deadline_ms=10000"}));
  std::string text;
  auto call = std::async(std::launch::async, [&] { return SlowStep(server.port, 1500, &text); });
  absl::SleepFor(absl::Milliseconds(300));  // the call is in flight
  server.process.Signal(SIGTERM);
  absl::SleepFor(absl::Milliseconds(150));
  EXPECT_EQ(Health(server.port), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  grpc::Status status = call.get();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(text, "slept");
  ASSERT_OK_AND_ASSIGN(int exit_code, server.process.Wait(absl::Seconds(15)));
  EXPECT_EQ(exit_code, 0);
  ASSERT_OK_AND_ASSIGN(std::string log, ReadFile(server.log));
  EXPECT_THAT(log, HasSubstr("draining"));
  EXPECT_THAT(log, HasSubstr("stopped"));
}

TEST(DrainTest, CallsPastTheDeadlineAreCancelledAndTheProcessStillExits) {
  ASSERT_OK_AND_ASSIGN(
      Server server, StartServer("../tests/skillsd-test-server", {"--drain_grace_ms=0", "--shutdown_deadline_ms=500"}));
  std::string text;
  auto call = std::async(std::launch::async, [&] { return SlowStep(server.port, 20000, &text); });
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time start = absl::Now();
  server.process.Signal(SIGTERM);
  grpc::Status status = call.get();
  EXPECT_FALSE(status.ok());
  ASSERT_OK_AND_ASSIGN(int exit_code, server.process.Wait(absl::Seconds(10)));
  EXPECT_EQ(exit_code, 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(8));
}

// SIGTERM drains a server, which then exits 0 within 15 s.
void ExpectCleanStop(Server& server) {
  server.process.Signal(SIGTERM);
  absl::StatusOr<int> exit_code = server.process.Wait(absl::Seconds(15));
  ASSERT_OK(exit_code.status());
  EXPECT_EQ(*exit_code, 0);
}

const std::vector<std::string> kServiceBinaries = {"skillsd-env", "skillsd-actor", "skillsd-skill", "skillsd-teacher",
                                                   "skillsd-learner"};
// Test names: the binary without "skillsd-".
std::string ServiceName(const ::testing::TestParamInfo<std::string>& info) { return info.param.substr(8); }

class ServiceBinaryTest : public ::testing::TestWithParam<std::string> {
 protected:
  // The learner, the teacher and the actor need a model: a tiny one made once with `skillsd model init`.
  static void SetUpTestSuite() {
    model_dir_ = new std::string(testing::MakeTempDir() + "/model");
    testing::CommandResult init =
        testing::RunCommand(absl::StrCat(testing::BinaryPath("skillsd"), " model init --out=", *model_dir_));
    ASSERT_EQ(init.exit_code, 0) << init.output;
  }
  // What each binary needs to start here, plus `extra`: outputs (actor.csv, skills.db, checkpoints) in a temporary
  // run directory; the actor and the teacher find no learner (port 1) and keep retrying in the background, which
  // must not stop them serving.
  static std::vector<std::string> Args(const std::string& binary, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--drain_grace_ms=50", "--set=run.output_dir=" + testing::MakeTempDir()};
    if (binary == "skillsd-learner") args.push_back("--checkpoint_dir=" + testing::MakeTempDir());
    if (binary != "skillsd-env" && binary != "skillsd-skill") args.push_back("--model_dir=" + *model_dir_);
    if (binary == "skillsd-actor" || binary == "skillsd-teacher") args.push_back("--learner=127.0.0.1:1");
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  static std::string* model_dir_;
};
std::string* ServiceBinaryTest::model_dir_ = nullptr;

TEST_P(ServiceBinaryTest, StartsAnswersHealthServesMetricsAndDrains) {
  ASSERT_OK_AND_ASSIGN(Service service, StartService(GetParam(), Args(GetParam())));
  Server& server = service.server;
  testing::CommandResult health =
      testing::RunCommand(absl::StrCat(testing::BinaryPath("skillsd"), " health --target=127.0.0.1:", server.port));
  EXPECT_EQ(health.exit_code, 0) << health.output;
  EXPECT_THAT(health.output, HasSubstr("SERVING"));
  ASSERT_OK_AND_ASSIGN(std::string metrics, testing::HttpGet(server.metrics_port, "/metrics"));
  EXPECT_THAT(metrics, HasSubstr("grpc_service=\"grpc.health.v1.Health\""));
  const std::string path = testing::MakeTempDir() + "/metrics.txt";
  ASSERT_OK(WriteFileAtomically(path, metrics));
  testing::CommandResult check = testing::RunCommand("promtool check metrics < " + path);
  EXPECT_EQ(check.exit_code, 0) << check.output;
  ExpectCleanStop(server);
}

INSTANTIATE_TEST_SUITE_P(AllServices, ServiceBinaryTest, ::testing::ValuesIn(kServiceBinaries), ServiceName);

// A real skillsd-env process plays a level through gRPC, driven by the tools binary.
// Secure mode, every service binary: with mutual TLS and a bearer token required, a client gets nothing without
// TLS, without a client certificate, with a certificate from another CA, without the token or with a wrong one;
// only a client with all of them gets an answer. (The token is checked on every call of the main port, health
// included; the plaintext health-only port and /metrics are separate listeners, not covered here.)
class SecureServiceBinaryTest : public ServiceBinaryTest {};

TEST_P(SecureServiceBinaryTest, OnlyClientsWithCertificateAndTokenGetAnything) {
  const std::string pki = testing::MakeTempDir();
  ASSERT_OK(testing::GenerateCertificates(pki));
  ASSERT_OK(WriteFileAtomically(pki + "/token", "s3cret-token\n"));
  ASSERT_OK(WriteFileAtomically(pki + "/wrong_token", "not-the-token\n"));
  const std::vector<std::string> args = Args(
      GetParam(), {"--tls_cert_file=" + pki + "/server.pem", "--tls_key_file=" + pki + "/server.key",
                   "--tls_ca_file=" + pki + "/ca.pem", "--tls_require_client_cert", "--token_file=" + pki + "/token"});
  ASSERT_OK_AND_ASSIGN(Service service, StartService(GetParam(), args));
  Server& server = service.server;
  const std::string health =
      absl::StrCat(testing::BinaryPath("skillsd"), " health --timeout_ms=3000 --target=127.0.0.1:", server.port);
  const std::string ca = " --tls_ca_file=" + pki + "/ca.pem";
  const std::string cert = " --tls_cert_file=" + pki + "/client.pem --tls_key_file=" + pki + "/client.key";
  const std::string rogue = " --tls_cert_file=" + pki + "/rogue_client.pem --tls_key_file=" + pki + "/rogue_client.key";
  const std::string token = " --token_file=" + pki + "/token";
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"plaintext", ""},
      {"plaintext with the token", token},  // refused by the client tool too: a token needs TLS
      {"TLS without a client certificate", ca + token},
      {"a client certificate from another CA", ca + rogue + token},
      {"no token", ca + cert},
      {"a wrong token", ca + cert + " --token_file=" + pki + "/wrong_token"},
  };
  for (const auto& [what, flags] : refused) {
    testing::CommandResult r = testing::RunCommand(health + flags);
    EXPECT_NE(r.exit_code, 0) << GetParam() << " answered a client with " << what << ": " << r.output;
    EXPECT_THAT(r.output, ::testing::Not(HasSubstr("SERVING"))) << what;
  }
  testing::CommandResult ok = testing::RunCommand(health + ca + cert + token);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("SERVING"));
  ExpectCleanStop(server);
}

INSTANTIATE_TEST_SUITE_P(AllServices, SecureServiceBinaryTest, ::testing::ValuesIn(kServiceBinaries), ServiceName);

TEST(EnvProcessTest, PlaysALevelToTheEnd) {
  ASSERT_OK_AND_ASSIGN(Server server, StartServer("skillsd-env", {"--drain_grace_ms=0"}));
  testing::CommandResult r = testing::RunCommand(
      absl::StrCat(testing::BinaryPath("skillsd"), " play --task=sokoban/test/7 --env=127.0.0.1:", server.port));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("solved in"));
  ASSERT_OK_AND_ASSIGN(std::string metrics, testing::HttpGet(server.metrics_port, "/metrics"));
  EXPECT_THAT(metrics, HasSubstr("skillsd_env_episodes_total{result=\"solved\"} 1"));
  server.process.Signal(SIGTERM);
  ASSERT_OK_AND_ASSIGN(int exit_code, server.process.Wait(absl::Seconds(15)));
  EXPECT_EQ(exit_code, 0);
}

// The conformance suite against a real skillsd-env process, as a user runs it (TLS and token flags are the
// channel flags every client tool takes, tested above with `health`).
TEST(EnvProcessTest, PassesTheConformanceSuite) {
  ASSERT_OK_AND_ASSIGN(Server server, StartServer("skillsd-env", {"--drain_grace_ms=0", "--max_batch_size=64"}));
  testing::CommandResult r =
      testing::RunCommand(absl::StrCat(testing::BinaryPath("skillsd"), " env-check --target=127.0.0.1:", server.port));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("12 of 12 checks passed"));
  EXPECT_THAT(r.output, HasSubstr("sokoban: 96 train and 64 test tasks, 4 actions"));
  testing::CommandResult bad = testing::RunCommand(absl::StrCat(testing::BinaryPath("skillsd"), " env-check"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("--target=HOST:PORT is required"));
  server.process.Signal(SIGTERM);
  ASSERT_OK_AND_ASSIGN(int exit_code, server.process.Wait(absl::Seconds(15)));
  EXPECT_EQ(exit_code, 0);
}

// skillsd model init / tokenize / score, as a user would run them.
TEST(ModelToolsTest, InitTokenizeScore) {
  const std::string dir = testing::MakeTempDir() + "/tiny";
  const std::string bin = testing::BinaryPath("skillsd");
  testing::CommandResult init = testing::RunCommand(absl::StrCat(bin, " model init --out=", dir));
  ASSERT_EQ(init.exit_code, 0) << init.output;
  EXPECT_THAT(init.output, HasSubstr("parameters"));
  for (const char* file : {"/config.json", "/model.safetensors", "/tokenizer.json"}) {
    EXPECT_TRUE(ReadFile(dir + file).ok()) << file;
  }
  testing::CommandResult tok =
      testing::RunCommand(absl::StrCat("printf '%s\\n' '\"<answer>Up || Left</answer>\"' '\"line\\\\nbreak\"' | ", bin,
                                       " tokenize --tokenizer=", dir, "/tokenizer.json"));
  ASSERT_EQ(tok.exit_code, 0) << tok.output;
  EXPECT_EQ(std::count(tok.output.begin(), tok.output.end(), '\n'), 2) << tok.output;
  EXPECT_EQ(tok.output[0], '[');
  testing::CommandResult score = testing::RunCommand(
      absl::StrCat("echo '{\"context\": [1, 2, 3], \"continuation\": [4, 5]}' | ", bin, " score --model=", dir));
  ASSERT_EQ(score.exit_code, 0) << score.output;
  EXPECT_THAT(score.output, HasSubstr("{\"logprobs\": [-"));
  testing::CommandResult bad = testing::RunCommand(
      absl::StrCat("echo '{\"context\": [1], \"continuation\": [99999]}' | ", bin, " score --model=", dir));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("outside the vocabulary"));
}

TEST(BadConfigTest, BinaryRefusesToStartAndNamesTheKey) {
  const std::string dir = testing::MakeTempDir();
  ASSERT_OK(WriteFileAtomically(dir + "/bad.yaml", "learner:\n  learning_rate: fast\n"));
  testing::CommandResult r = testing::RunCommand(
      absl::StrCat(testing::BinaryPath("skillsd-learner"), " --port=0 --metrics_port=0 --config=", dir, "/bad.yaml"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("learner.learning_rate: expected a number, got 'fast'"));

  r = testing::RunCommand(absl::StrCat(testing::BinaryPath("skillsd"), " config --config=", dir, "/bad.yaml"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("learner.learning_rate"));

  r = testing::RunCommand(
      absl::StrCat(testing::BinaryPath("skillsd"), " config --set=algorithm.mode=grpo,learner.total_steps=3"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("mode: grpo"));
  EXPECT_THAT(r.output, HasSubstr("total_steps: 3"));
}

TEST(BadConfigTest, PortInUseIsAClearError) {
  ASSERT_OK_AND_ASSIGN(Server first, StartServer("skillsd-env"));
  testing::CommandResult r = testing::RunCommand(
      absl::StrCat(testing::BinaryPath("skillsd-env"), " --host=127.0.0.1 --metrics_port=0 --port=", first.port));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("cannot listen"));
}

}  // namespace
}  // namespace skillsd
