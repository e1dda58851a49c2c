// Throughput of the Sokoban environment: raw moves per core, rendering, answer parsing, a whole text step, and
// steps through gRPC on loopback at batch 1 and batch 64 sessions per RPC. Prints the ratios gRPC / raw measured
// in the same run (the machine is shared and noisy, so only same-run ratios are meaningful).
//
//   build/bin/env_benchmark [--benchmark_min_time=1]
#include <benchmark/benchmark.h>

#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "core/channel.h"
#include "core/config.h"
#include "core/logging.h"
#include "core/server.h"
#include "env_workers/env_config.h"
#include "env_workers/env_service.h"
#include "env_workers/sokoban_env.h"

namespace skillsd::sokoban {
namespace {

std::shared_ptr<const LevelSet> Levels() {
  static auto* levels = new std::shared_ptr<const LevelSet>(*BuildLevelSet(EnvConfig()));
  return *levels;
}

std::vector<Action> RandomActions(int n) {
  Rng rng(1);
  std::vector<Action> actions(n);
  for (auto& a : actions) a = static_cast<Action>(rng.Uniform(kNumActions));
  return actions;
}

// One move per item; the board is reloaded every 40 moves (an episode), and the reload is part of the cost.
void BM_RawStep(benchmark::State& state) {
  const Level& level = Levels()->levels(Split::kTrain)[0];
  const std::vector<Action> actions = RandomActions(1 << 16);
  Board board(level);
  size_t i = 0;
  int in_episode = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(board.Move(actions[i++ & 0xFFFF]));
    if (++in_episode == 40) {
      board.Load(level);
      in_episode = 0;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawStep);

void BM_Render(benchmark::State& state) {
  Board board(Levels()->levels(Split::kTrain)[0]);
  std::string out;
  for (auto _ : state) {
    out.clear();
    board.Render(&out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Render);

void BM_ParseAnswer(benchmark::State& state) {
  const std::string answer = "Let me think. The box is left. <answer>Left || Up || Right</answer>";
  for (auto _ : state) benchmark::DoNotOptimize(ParseAnswer(answer, 3));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseAnswer);

// A whole text step (parse, one move, observation text) through the Env interface.
void BM_EnvStep(benchmark::State& state) {
  SokobanEnv env(Levels(), SokobanEnvOptions());
  const std::vector<Action> actions = RandomActions(1 << 12);
  std::vector<std::string> answers;
  for (Action a : actions) answers.push_back(FormatAnswer({a}));
  (void)env.Reset({Split::kTrain, 0, 0});
  size_t i = 0;
  for (auto _ : state) {
    auto turn = env.Step(answers[i++ & 0xFFF]);
    if (turn->done) (void)env.Reset({Split::kTrain, 0, 0});
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EnvStep);

// skillsd-env's service over real loopback gRPC, `range(0)` sessions per BatchStep (1 = plain Step calls).
void BM_GrpcStep(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const auto options = SokobanEnvOptionsFromConfig(EnvConfig());
  EnvServiceImpl service([options] { return std::make_unique<SokobanEnv>(Levels(), options); }, {});
  ServerOptions server_options;
  server_options.address = "127.0.0.1:0";
  server_options.drain_grace = absl::ZeroDuration();
  auto server = GrpcServer::Start(server_options, {&service});
  SKILLSD_CHECK(server.ok()) << server.status();
  auto channel =
      CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), {}, {DescriptorOf<skillsd::v1::EnvService>()});
  auto stub = skillsd::v1::EnvService::NewStub(*channel);
  std::vector<std::string> sessions;
  for (int s = 0; s < batch; ++s) {
    grpc::ClientContext context;
    skillsd::v1::CreateSessionRequest request;
    request.mutable_task()->set_split(skillsd::v1::SPLIT_TRAIN);
    request.mutable_task()->set_level_index(s % 96);
    skillsd::v1::CreateSessionResponse response;
    SKILLSD_CHECK(stub->CreateSession(&context, request, &response).ok());
    sessions.push_back(response.session_id());
  }
  const std::vector<Action> actions = RandomActions(1 << 12);
  size_t i = 0;
  skillsd::v1::BatchStepRequest batch_request;
  for (int s = 0; s < batch; ++s) batch_request.add_steps()->set_session_id(sessions[s]);
  auto reset = [&](const std::string& id) {
    grpc::ClientContext context;
    skillsd::v1::ResetRequest request;
    request.set_session_id(id);
    skillsd::v1::ResetResponse response;
    SKILLSD_CHECK(stub->Reset(&context, request, &response).ok());
  };
  for (auto _ : state) {
    if (batch == 1) {
      grpc::ClientContext context;
      skillsd::v1::StepRequest request;
      request.set_session_id(sessions[0]);
      request.set_answer(FormatAnswer({actions[i++ & 0xFFF]}));
      skillsd::v1::StepResponse response;
      SKILLSD_CHECK(stub->Step(&context, request, &response).ok());
      if (response.observation().done()) reset(sessions[0]);
    } else {
      for (auto& step : *batch_request.mutable_steps()) {
        step.set_answer(FormatAnswer({actions[i++ & 0xFFF]}));
      }
      grpc::ClientContext context;
      skillsd::v1::BatchStepResponse response;
      SKILLSD_CHECK(stub->BatchStep(&context, batch_request, &response).ok());
      for (int s = 0; s < batch; ++s) {
        if (response.results(s).observation().done()) reset(sessions[s]);
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
  (*server)->Drain();
}
BENCHMARK(BM_GrpcStep)->Arg(1)->Arg(64)->UseRealTime();

// Console output plus a record of steps/s per benchmark for the closing ratios.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      auto it = run.counters.find("items_per_second");
      if (it != run.counters.end()) rates[run.benchmark_name()] = it->second.value;
    }
  }
  std::map<std::string, double> rates;
};

}  // namespace
}  // namespace skillsd::sokoban

int main(int argc, char** argv) {
  skillsd::logging::SetMinSeverity(skillsd::logging::Severity::kWarning);
  benchmark::Initialize(&argc, argv);
  skillsd::sokoban::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  auto& r = reporter.rates;
  const double raw = r["BM_RawStep"];
  std::cout << "\nSummary (same run):\n";
  std::cout << "  raw Step:          " << raw / 1e6 << " M steps/s on one core\n";
  std::cout << "  render:            " << r["BM_Render"] / 1e6 << " M grids/s\n";
  std::cout << "  text Step (Env):   " << r["BM_EnvStep"] / 1e3 << " k steps/s\n";
  for (const char* name : {"BM_GrpcStep/1/real_time", "BM_GrpcStep/64/real_time"}) {
    if (r.count(name) == 0 || raw == 0) continue;
    std::cout << "  " << name << ": " << r[name] / 1e3 << " k steps/s, gRPC/raw = " << r[name] / raw << "\n";
  }
  benchmark::Shutdown();
  return 0;
}
