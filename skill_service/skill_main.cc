// skillsd-skill: summarises trajectories into skills, keeps the per-task bank (SQLite, WAL), selects skills by
// UCB1.
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/flags.h"
#include "core/service_main.h"
#include "skill_service/skill_service.h"

ABSL_FLAG(std::string, bank, "", "Skill bank database; default <run.output_dir>/<run.name>/skills.db.");

int main(int argc, char** argv) {
  return skillsd::ServiceMain(
      argc, argv,
      {"skillsd-skill",
       "Skill service: summarises trajectories into skills, keeps the per-task bank, selects skills by UCB1.",
       skillsd::kSkillPort, skillsd::kSkillMetricsPort},
      [](const skillsd::ExperimentConfig& config) -> absl::StatusOr<std::vector<std::unique_ptr<grpc::Service>>> {
        const std::string dir = absl::StrCat(config.run.output_dir, "/", config.run.name);
        std::string path = absl::GetFlag(FLAGS_bank);
        if (path.empty()) {
          if (absl::Status made = skillsd::MakeDirectories(dir); !made.ok()) return made;
          path = dir + "/skills.db";
        }
        auto bank =
            skillsd::skill::SkillBank::Open(path, config.skill.ucb_c,
                                            config.skill.credit == "same_group" ? skillsd::skill::Credit::kSameGroup
                                                                                : skillsd::skill::Credit::kNextGroup,
                                            config.skill.max_skills_per_task);
        if (!bank.ok()) return bank.status();
        auto summarizer = skillsd::skill::MakeSummarizer(config.skill);
        if (!summarizer.ok()) return summarizer.status();
        auto service = skillsd::skill::SkillServiceImpl::Create(std::move(bank).value(), std::move(summarizer).value(),
                                                                config.skill.queue_capacity);
        if (!service.ok()) return service.status();
        std::vector<std::unique_ptr<grpc::Service>> services;
        services.push_back(std::move(service).value());
        return services;
      });
}
