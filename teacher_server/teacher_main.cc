// skillsd-teacher: scores student tokens under skill-conditioned prompts with the weights the learner pushes on
// its teacher schedule (every K steps, or only the initial weights when frozen).
#include "absl/flags/flag.h"
#include "core/flags.h"
#include "core/service_main.h"
#include "model/transformer.h"
#include "teacher_server/teacher_service.h"

ABSL_FLAG(std::string, model_dir, "", "Model folder (architecture and tokenizer); default model.path of the config.");
ABSL_FLAG(std::string, learner, "127.0.0.1:50054",
          "Learner to subscribe to for teacher weights; empty = score with the weights in --model_dir.");

int main(int argc, char** argv) {
  return skillsd::ServiceMain(
      argc, argv,
      {"skillsd-teacher", "Teacher: scores student tokens under skill-conditioned prompts.", skillsd::kTeacherPort,
       skillsd::kTeacherMetricsPort},
      [](const skillsd::ExperimentConfig& config) -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
        skillsd::model::SetIntraOpThreads(config.model.threads);
        const std::string dir =
            absl::GetFlag(FLAGS_model_dir).empty() ? config.model.path : absl::GetFlag(FLAGS_model_dir);
        auto service = skillsd::teacher::TeacherServiceImpl::Create(config, dir, absl::GetFlag(FLAGS_learner),
                                                                    skillsd::ChannelOptionsFromFlags());
        if (!service.ok()) return service.status();
        std::vector<std::unique_ptr<grpc::Service>> services;
        services.push_back(std::move(service).value());
        return services;
      });
}
