// skillsd-learner: trains the policy with Skill-SD (or any mode of the SPEC's table) and publishes weights.
// Serves LearnerService (work, groups, status) and WeightsService (snapshots) on the shared server skeleton,
// runs the step loop, checkpoints on schedule and on SIGTERM/SIGINT, then drains.
// Data parallel (torchrun-style RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT; Gloo on CPU, NCCL on CUDA): rank 0
// does all of the above; every other rank serves only health and metrics and trains its share of each step on
// the groups rank 0 broadcasts, until rank 0 finishes.
#include <atomic>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "core/channel.h"
#include "core/file_util.h"
#include "core/flags.h"
#include "core/grpc_status.h"
#include "core/logging.h"
#include "core/server.h"
#include "core/signals.h"
#include "core/status.h"
#include "learner/learner.h"
#include "learner/learner_service.h"
#include "learner/rank_follower.h"
#include "skillsd/v1/env.grpc.pb.h"
#include "weights/publisher.h"
#include "weights/weights_service.h"

ABSL_FLAG(std::string, checkpoint_dir, "", "Checkpoints and the intake log; default runs/<run.name>/checkpoints.");
ABSL_FLAG(std::string, model_dir, "", "Initial model (Hugging Face folder); default model.path of the config.");
ABSL_FLAG(std::string, env, "127.0.0.1:50051", "The env workers: their spec (GetSpec) lists the training tasks.");
ABSL_FLAG(int, env_wait_ms, 120000, "How long to wait for the env workers' spec at start.");
ABSL_FLAG(bool, exit_when_finished, false, "Exit once total_steps are trained (else serve until SIGTERM).");
ABSL_FLAG(std::string, export_dir, "",
          "When training finishes, also write the final weights and tokenizer here as a Hugging Face folder.");

namespace skillsd {
namespace {

// The training tasks, in the order the env lists them (EnvService.GetSpec): the learner needs no code of the
// environment. The env workers may start after the learner: retried until `wait` has passed.
absl::StatusOr<std::vector<skillsd::v1::TaskRef>> TrainTasksFromEnv(const std::string& target, absl::Duration wait) {
  ASSIGN_OR_RETURN(auto channel,
                   CreateChannel(target, ChannelOptionsFromFlags(), {DescriptorOf<skillsd::v1::EnvService>()}));
  auto stub = skillsd::v1::EnvService::NewStub(channel);
  const absl::Time until = absl::Now() + wait;
  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext context;
    SetDeadline(&context, absl::Seconds(10));
    skillsd::v1::GetSpecResponse response;
    const absl::Status status = FromGrpcStatus(stub->GetSpec(&context, skillsd::v1::GetSpecRequest(), &response));
    if (status.ok()) {
      for (const skillsd::v1::TaskRef& task : response.train_tasks()) {
        if (task.task_id().empty()) {
          return absl::InvalidArgumentError(absl::StrCat("the env workers at ", target, " list a task without an id"));
        }
      }
      if (response.train_tasks().empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat("the env workers at ", target, " (", response.env(), ") list no training tasks"));
      }
      return std::vector<skillsd::v1::TaskRef>(response.train_tasks().begin(), response.train_tasks().end());
    }
    const bool transient =
        status.code() == absl::StatusCode::kUnavailable || status.code() == absl::StatusCode::kDeadlineExceeded;
    if (!transient || absl::Now() > until) return Annotate(status, absl::StrCat("env spec from ", target));
    if (attempt % 10 == 0) SKILLSD_LOG(INFO) << "skillsd-learner: waiting for the env workers at " << target;
    absl::SleepFor(absl::Seconds(1));
  }
}

// A data-parallel rank other than 0: health and metrics only; trains what rank 0 broadcasts.
int RunFollower(const ExperimentConfig& config, model::CausalLM model, learner::DataParallel* data_parallel) {
  auto server = GrpcServer::Start(ServerOptionsFromFlags("skillsd-learner", kLearnerPort, kLearnerMetricsPort), {});
  if (!server.ok()) {
    SKILLSD_LOG(ERROR) << "skillsd-learner: " << server.status();
    return 1;
  }
  // SIGTERM: rank 0 gets it too, checkpoints and says finish, which ends the loop below.
  std::atomic<bool> stop{false};
  WatchShutdownSignals([&](int) {
    stop = true;
    SKILLSD_LOG(INFO) << "skillsd-learner: stopping when rank 0 does";
  });
  const absl::Status done = learner::RunRankFollower(config, std::move(model), data_parallel);
  if (!done.ok()) SKILLSD_LOG(ERROR) << "skillsd-learner: rank " << data_parallel->rank() << ": " << done;
  // Like rank 0: without --exit_when_finished, stay up (healthy, idle) until SIGTERM, so that an orchestrator
  // does not restart a finished rank into a rendezvous that will never come.
  while (done.ok() && !stop && !absl::GetFlag(FLAGS_exit_when_finished)) absl::SleepFor(absl::Milliseconds(200));
  (*server)->Drain();
  return done.ok() ? 0 : 1;
}

int Main(int argc, char** argv) {
  BlockShutdownSignals();
  ParseFlags(argc, argv, "skillsd-learner [flags]: trains the policy and publishes weights.");
  auto config = ConfigFromFlags();
  if (!config.ok()) {
    SKILLSD_LOG(ERROR) << "skillsd-learner: " << config.status();
    return 2;
  }
  model::SetIntraOpThreads(config->model.threads);
  const std::string model_dir =
      absl::GetFlag(FLAGS_model_dir).empty() ? config->model.path : absl::GetFlag(FLAGS_model_dir);
  auto model = model::LoadModel(model_dir, torch::Device(config->model.device), model::ToTorch(config->model.dtype));
  if (!model.ok()) {
    SKILLSD_LOG(ERROR) << "skillsd-learner: " << model.status();
    return 2;
  }
  auto data_parallel = learner::DataParallel::FromEnvironment(torch::Device(config->model.device));
  if (!data_parallel.ok()) {  // exit 1: the launcher (or Kubernetes) restarts the rank to rendezvous again
    SKILLSD_LOG(ERROR) << "skillsd-learner: " << data_parallel.status();
    return 1;
  }
  if ((*data_parallel)->rank() != 0) return RunFollower(*config, std::move(model).value(), data_parallel->get());
  auto tasks = TrainTasksFromEnv(absl::GetFlag(FLAGS_env), absl::Milliseconds(absl::GetFlag(FLAGS_env_wait_ms)));
  if (!tasks.ok()) {  // exit 1: restarted, for env workers that come up later
    SKILLSD_LOG(ERROR) << "skillsd-learner: " << tasks.status();
    return 1;
  }
  learner::LearnerOptions options;
  options.checkpoint_dir = absl::GetFlag(FLAGS_checkpoint_dir).empty()
                               ? absl::StrCat(config->run.output_dir, "/", config->run.name, "/checkpoints")
                               : absl::GetFlag(FLAGS_checkpoint_dir);
  options.metrics_csv = absl::StrCat(config->run.output_dir, "/", config->run.name, "/metrics.csv");
  options.data_parallel = data_parallel->get();
  options.tasks = std::move(tasks).value();
  weights::WeightsPublisher publisher(config->algorithm.teacher_sync_interval,
                                      Traits(config->algorithm.mode).teacher_frozen);
  auto learner = learner::Learner::Create(*config, std::move(model).value(), options, &publisher);
  if (!learner.ok()) {
    SKILLSD_LOG(ERROR) << "skillsd-learner: " << learner.status();
    return 2;
  }
  learner::LearnerServiceImpl learner_service(learner->get());
  weights::WeightsServiceImpl weights_service(&publisher);
  auto server = GrpcServer::Start(ServerOptionsFromFlags("skillsd-learner", kLearnerPort, kLearnerMetricsPort),
                                  {&learner_service, &weights_service});
  if (!server.ok()) {
    SKILLSD_LOG(ERROR) << "skillsd-learner: " << server.status();
    return 1;
  }
  SKILLSD_LOG(INFO) << "skillsd-learner: serving on port " << (*server)->port() << ", policy version "
                    << (*learner)->version() << " of " << config->learner.total_steps;
  std::atomic<bool> stop{false};
  WatchShutdownSignals([&](int) { stop = true; });
  int exit_code = 0;
  while (!stop) {
    if ((*learner)->finished()) {
      if (absl::GetFlag(FLAGS_exit_when_finished)) break;
      absl::SleepFor(absl::Milliseconds(200));
      continue;
    }
    absl::StatusOr<bool> stepped = (*learner)->RunStep(absl::Milliseconds(200));
    if (!stepped.ok()) {
      SKILLSD_LOG(ERROR) << "skillsd-learner: step failed: " << stepped.status();
      exit_code = 1;
      break;
    }
    if (*stepped) {
      const learner::StepStats s = (*learner)->last_stats();
      SKILLSD_LOG(INFO) << "step " << (*learner)->version() << ": loss " << s.loss << " grpo " << s.terms.grpo
                        << " sdl " << s.terms.sdl << " clip " << s.terms.clip_fraction << " grad_norm " << s.grad_norm
                        << " tokens " << s.tokens << " padding "
                        << (s.padded_tokens > 0 ? 1.0 - s.sequence_tokens / s.padded_tokens : 0.0);
    }
  }
  absl::Status saved = (*learner)->Checkpoint();
  if (exit_code == 0) {  // after a failed step the other ranks are already failing in their collective
    const absl::Status released = (*learner)->ReleaseRanks();
    if (!released.ok()) SKILLSD_LOG(WARNING) << "skillsd-learner: " << released;
  }
  if (saved.ok() && (*learner)->finished() && !absl::GetFlag(FLAGS_export_dir).empty()) {
    const std::string out = absl::GetFlag(FLAGS_export_dir);
    saved = (*learner)->ExportModel(out);
    absl::StatusOr<std::string> tokenizer = ReadFile(model_dir + "/tokenizer.json");
    if (saved.ok())
      saved = tokenizer.ok() ? WriteFileAtomically(out + "/tokenizer.json", *tokenizer) : tokenizer.status();
    if (saved.ok()) SKILLSD_LOG(INFO) << "skillsd-learner: final model written to " << out;
  }
  if (!saved.ok()) {
    SKILLSD_LOG(ERROR) << "skillsd-learner: final checkpoint failed: " << saved;
    exit_code = 1;
  }
  publisher.Close();
  (*server)->Drain();
  return exit_code;
}

}  // namespace
}  // namespace skillsd

int main(int argc, char** argv) { return skillsd::Main(argc, argv); }
