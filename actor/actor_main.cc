// skillsd-actor: plays episodes against env workers with the learner's latest weights, has the teacher score
// them under skill-conditioned prompts, and submits scored groups to the learner (see actor/actor.h).
// With --eval it instead plays the test levels (plain prompt, no skills) — greedy, then sampled — and prints
// the accuracy and completion as JSON.
#include <unistd.h>

#include <fstream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "actor/actor.h"
#include "actor/evaluation.h"
#include "actor/remote_env.h"
#include "core/channel.h"
#include "core/file_util.h"
#include "core/flags.h"
#include "core/json.h"
#include "core/logging.h"
#include "core/server.h"
#include "core/signals.h"
#include "core/status.h"
#include "model/transformer.h"
#include "skillsd/v1/weights.grpc.pb.h"
#include "weights/subscriber.h"

ABSL_FLAG(std::string, learner, "127.0.0.1:50054", "The learner (work, groups, weights).");
ABSL_FLAG(std::string, env, "127.0.0.1:50051", "The env workers.");
ABSL_FLAG(std::string, teacher, "127.0.0.1:50053", "The teacher; empty = none (modes without a teacher).");
ABSL_FLAG(std::string, skill, "127.0.0.1:50052", "The skill service; empty = none.");
ABSL_FLAG(std::string, model_dir, "", "Model folder (architecture and tokenizer); default model.path of the config.");
ABSL_FLAG(std::string, actor_id, "", "This actor's id; default actor-<host>-<pid>.");
ABSL_FLAG(bool, exit_when_finished, false, "Exit once the learner has finished training.");
ABSL_FLAG(bool, eval, false, "Evaluate the weights in --model_dir on the test levels and exit.");
ABSL_FLAG(std::string, eval_out, "", "--eval: also write the JSON result here.");

namespace skillsd {
namespace {

int Evaluate(const ExperimentConfig& config, model::CausalLM model, const model::Tokenizer& tok,
             const model::ChatTemplate& chat, std::shared_ptr<skillsd::v1::EnvService::StubInterface> env) {
  const actor::EnvBatchFactory envs = [&](size_t slots) -> absl::StatusOr<std::unique_ptr<actor::EnvBatch>> {
    ASSIGN_OR_RETURN(std::unique_ptr<actor::RemoteEnvBatch> batch,
                     actor::RemoteEnvBatch::Create(actor::EnvClient(env), slots));
    return std::unique_ptr<actor::EnvBatch>(std::move(batch));
  };
  std::string json = "{";
  for (const actor::EvalPolicy policy : {actor::EvalPolicy::kGreedy, actor::EvalPolicy::kSampled}) {
    auto results =
        actor::Evaluate(*model, tok, chat, config, envs, Split::kTest, config.env.test_levels, policy, config.run.seed);
    if (!results.ok()) {
      SKILLSD_LOG(ERROR) << "skillsd-actor: " << results.status();
      return 1;
    }
    absl::StrAppend(&json, policy == actor::EvalPolicy::kGreedy ? "\"greedy\": " : ", \"sampled\": ",
                    actor::ToJson(actor::Summarize(*results)));
  }
  json += "}\n";
  std::cout << json;
  if (!absl::GetFlag(FLAGS_eval_out).empty()) {
    absl::Status written = WriteFileAtomically(absl::GetFlag(FLAGS_eval_out), json);
    if (!written.ok()) {
      SKILLSD_LOG(ERROR) << "skillsd-actor: " << written;
      return 1;
    }
  }
  return 0;
}

int Main(int argc, char** argv) {
  BlockShutdownSignals();
  ParseFlags(argc, argv, "skillsd-actor [flags]: plays episodes and submits scored groups to the learner.");
  auto config = ConfigFromFlags();
  if (!config.ok()) {
    SKILLSD_LOG(ERROR) << "skillsd-actor: " << config.status();
    return 2;
  }
  model::SetIntraOpThreads(config->model.threads);
  const std::string dir = absl::GetFlag(FLAGS_model_dir).empty() ? config->model.path : absl::GetFlag(FLAGS_model_dir);
  auto tokenizer = model::Tokenizer::FromFile(dir + "/tokenizer.json");
  auto model = model::LoadModel(dir, torch::Device(config->model.device), model::ToTorch(config->model.dtype));
  if (!tokenizer.ok() || !model.ok()) {
    SKILLSD_LOG(ERROR) << "skillsd-actor: " << (tokenizer.ok() ? model.status() : tokenizer.status());
    return 2;
  }
  auto chat = model::ChatTemplate::Create(tokenizer->get());
  if (!chat.ok()) {
    SKILLSD_LOG(ERROR) << "skillsd-actor: " << chat.status();
    return 2;
  }
  const ChannelOptions channel_options = ChannelOptionsFromFlags();
  auto env_channel =
      CreateChannel(absl::GetFlag(FLAGS_env), channel_options, {DescriptorOf<skillsd::v1::EnvService>()});
  if (!env_channel.ok()) {
    SKILLSD_LOG(ERROR) << "skillsd-actor: " << env_channel.status();
    return 2;
  }
  std::shared_ptr<skillsd::v1::EnvService::StubInterface> env_stub = skillsd::v1::EnvService::NewStub(*env_channel);
  if (absl::GetFlag(FLAGS_eval)) return Evaluate(*config, *model, **tokenizer, *chat, env_stub);

  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  const std::string id = absl::GetFlag(FLAGS_actor_id).empty() ? absl::StrCat("actor-", host, "-", getpid())
                                                               : absl::GetFlag(FLAGS_actor_id);
  actor::ActorStubs stubs;
  stubs.env = env_stub;
  auto learner_channel =
      CreateChannel(absl::GetFlag(FLAGS_learner), channel_options,
                    {DescriptorOf<skillsd::v1::LearnerService>(), DescriptorOf<skillsd::v1::WeightsService>()});
  if (!learner_channel.ok()) {
    SKILLSD_LOG(ERROR) << "skillsd-actor: " << learner_channel.status();
    return 2;
  }
  stubs.learner = skillsd::v1::LearnerService::NewStub(*learner_channel);
  if (!absl::GetFlag(FLAGS_teacher).empty()) {
    auto channel =
        CreateChannel(absl::GetFlag(FLAGS_teacher), channel_options, {DescriptorOf<skillsd::v1::TeacherService>()});
    if (!channel.ok()) {
      SKILLSD_LOG(ERROR) << "skillsd-actor: " << channel.status();
      return 2;
    }
    stubs.teacher = skillsd::v1::TeacherService::NewStub(*channel);
  }
  if (!absl::GetFlag(FLAGS_skill).empty()) {
    auto channel =
        CreateChannel(absl::GetFlag(FLAGS_skill), channel_options, {DescriptorOf<skillsd::v1::SkillService>()});
    if (!channel.ok()) {
      SKILLSD_LOG(ERROR) << "skillsd-actor: " << channel.status();
      return 2;
    }
    stubs.skill = skillsd::v1::SkillService::NewStub(*channel);
  }
  auto holder = std::make_shared<weights::ModelHolder>(std::move(model).value(), -1);
  weights::WeightsSubscriber subscriber(*learner_channel, id, skillsd::v1::SUBSCRIBER_ROLE_ACTOR,
                                        [holder](const weights::Snapshot& s) { return holder->Install(s); });
  subscriber.Start();
  // Health and /metrics (the actor serves no RPCs of its own).
  auto server = GrpcServer::Start(ServerOptionsFromFlags("skillsd-actor", kActorPort, kActorMetricsPort), {});
  if (!server.ok()) {
    SKILLSD_LOG(ERROR) << "skillsd-actor: " << server.status();
    return 1;
  }
  actor::Actor actor(*config, id, holder, tokenizer->get(), *chat, stubs);
  // Per-assignment figures for the run report.
  const std::string csv_path = absl::StrCat(config->run.output_dir, "/", config->run.name, "/actor.csv");
  (void)MakeDirectories(absl::StrCat(config->run.output_dir, "/", config->run.name));
  const bool header = !std::ifstream(csv_path).good();
  std::ofstream csv(csv_path, std::ios::app);
  if (header) {
    csv << "actor,policy_version,groups,episodes,groups_with_skill,teacher_scored,mean_return,solve_rate,completion,"
           "generated_tokens,rollout_s,teacher_s,submit_s,skill_s\n";
  }
  std::atomic<bool> stop{false};
  WatchShutdownSignals([&](int) { stop = true; });
  SKILLSD_LOG(INFO) << "skillsd-actor " << id << ": playing";
  absl::Duration backoff = absl::Milliseconds(200);
  while (!stop) {
    absl::StatusOr<actor::WorkReport> report = actor.RunOnce(&stop);
    if (stop) break;
    if (!report.ok()) {
      SKILLSD_LOG(WARNING) << "skillsd-actor: assignment failed (retrying): " << report.status();
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(5));
      continue;
    }
    backoff = absl::Milliseconds(200);
    if (report->finished) {
      if (absl::GetFlag(FLAGS_exit_when_finished)) break;
      absl::SleepFor(absl::Milliseconds(500));
      continue;
    }
    if (report->idle) continue;
    const auto& r = *report;
    csv << id << "," << r.policy_version << "," << r.groups << "," << r.episodes << "," << r.groups_with_skill << ","
        << r.teacher_scored << "," << r.mean_return << "," << r.solve_rate << "," << r.completion << ","
        << r.generated_tokens << "," << r.rollout_s << "," << r.teacher_s << "," << r.submit_s << "," << r.skill_s
        << std::endl;
    SKILLSD_LOG(INFO) << "actor: policy " << r.policy_version << ": " << r.episodes << " episodes, solved "
                      << r.solve_rate << ", return " << r.mean_return << ", skills " << r.groups_with_skill << "/"
                      << r.groups << ", rollout " << r.rollout_s << " s, teacher " << r.teacher_s << " s";
  }
  subscriber.Stop();
  (*server)->Drain();
  return 0;
}

}  // namespace
}  // namespace skillsd

int main(int argc, char** argv) { return skillsd::Main(argc, argv); }
