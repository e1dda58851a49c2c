#include "learner/step_report.h"

#include <fstream>
#include <utility>
#include <vector>

#include "core/logging.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "learner/learner_metrics.h"

namespace skillsd::learner {
namespace {

double TokensPerSecond(const StepStats& stats) {
  const double train_seconds = stats.seconds_forward_backward + stats.seconds_optimizer;
  return train_seconds > 0 ? stats.tokens / train_seconds : 0;
}

std::optional<double> Ratio(double num, double den) {
  if (den <= 0) return std::nullopt;
  return num / den;
}

// Adds every field of `from` into `to` (SkillDiagnostics holds counts and sums only), so a field added to the
// message is summed without a line here.
void AddFields(const skillsd::v1::SkillDiagnostics& from, skillsd::v1::SkillDiagnostics* to) {
  const google::protobuf::Descriptor* descriptor = from.GetDescriptor();
  const google::protobuf::Reflection* reflection = from.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = descriptor->field(i);
    switch (f->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_INT32:
        reflection->SetInt32(to, f, reflection->GetInt32(*to, f) + reflection->GetInt32(from, f));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_INT64:
        reflection->SetInt64(to, f, reflection->GetInt64(*to, f) + reflection->GetInt64(from, f));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_DOUBLE:
        reflection->SetDouble(to, f, reflection->GetDouble(*to, f) + reflection->GetDouble(from, f));
        break;
      default:
        break;  // none: the message has counts and sums only
    }
  }
}

}  // namespace

GroupsSummary SummarizeGroups(const std::vector<skillsd::v1::Group>& groups) {
  GroupsSummary out;
  skillsd::v1::SkillDiagnostics& d = out.skill;
  for (const skillsd::v1::Group& group : groups) {
    for (const auto& trajectory : group.trajectories()) {
      ++out.episodes;
      out.solved += trajectory.stats().solved() ? 1 : 0;
      out.turns += trajectory.stats().turns();
      out.invalid_actions += trajectory.stats().invalid_actions();
    }
    AddFields(group.skill_diagnostics(), &d);
  }
  return out;
}

std::vector<std::pair<const char*, std::optional<double>>> GroupsSummary::Rates() const {
  const skillsd::v1::SkillDiagnostics& d = skill;
  return {
      {"train_solve_rate", Ratio(static_cast<double>(solved), static_cast<double>(episodes))},
      {"invalid_rate", Ratio(static_cast<double>(invalid_actions), static_cast<double>(turns))},
      {"skill_turns", static_cast<double>(d.skill_turns())},
      {"workflow_applies", Ratio(d.on_workflow_turns(), d.skill_turns())},
      {"teacher_gap_on", Ratio(d.gap_sum_on(), static_cast<double>(d.gap_tokens_on()))},
      {"teacher_gap_off", Ratio(d.gap_sum_off(), static_cast<double>(d.gap_tokens_off()))},
      {"teacher_optimal_on", Ratio(d.teacher_optimal_on(), d.probed_on())},
      {"student_optimal_on", Ratio(d.student_optimal_on(), d.probed_on())},
      {"teacher_optimal_off", Ratio(d.teacher_optimal_off(), d.probed_off())},
      {"student_optimal_off", Ratio(d.student_optimal_off(), d.probed_off())},
      {"teacher_follows_workflow", Ratio(d.teacher_follows(), d.probed_workflow())},
      {"student_follows_workflow", Ratio(d.student_follows(), d.probed_workflow())},
  };
}

void RecordStepMetrics(const StepReport& report) {
  LearnerMetrics& metrics = LearnerMetrics::Get();
  const StepStats& stats = report.stats;
  const double tokens_per_s = TokensPerSecond(stats);
  metrics.version.Set(static_cast<double>(report.version));
  metrics.steps.Increment();
  metrics.tokens.Increment(stats.tokens);
  metrics.queued.Set(static_cast<double>(report.queued));
  metrics.policy_lag.Set(report.policy_lag);
  metrics.teacher_version.Set(static_cast<double>(report.teacher_version));
  const std::vector<std::pair<const char*, double>> losses = {{"total", stats.loss},
                                                              {"grpo", stats.terms.grpo},
                                                              {"sdl", stats.terms.sdl},
                                                              {"kl_ref", stats.terms.kl_ref},
                                                              {"entropy", stats.terms.entropy}};
  for (const auto& [term, value] : losses) metrics.loss.Add({{"term", term}}).Set(value);
  const std::vector<std::pair<const char*, double>> stat_values = {{"clip_fraction", stats.terms.clip_fraction},
                                                                   {"ratio_mean", stats.terms.ratio_mean},
                                                                   {"ratio_min", stats.terms.ratio_min},
                                                                   {"ratio_max", stats.terms.ratio_max},
                                                                   {"rho_mean", stats.terms.rho_mean},
                                                                   {"rho_max", stats.terms.rho_max},
                                                                   {"teacher_gap_mean", stats.terms.teacher_gap_mean},
                                                                   {"approx_kl_old", stats.terms.approx_kl_old},
                                                                   {"grad_norm", stats.grad_norm},
                                                                   {"learning_rate", stats.learning_rate},
                                                                   {"tokens_per_second", tokens_per_s}};
  for (const auto& [name, value] : stat_values) metrics.stat.Add({{"stat", name}}).Set(value);
  for (const auto& [name, value] : report.groups.Rates()) {
    if (value) metrics.stat.Add({{"stat", name}}).Set(*value);
  }
  metrics.Phase("wait", report.wait_s);
  metrics.Phase("forward_backward", stats.seconds_forward_backward);
  metrics.Phase("optimizer", stats.seconds_optimizer);
  metrics.Phase("publish", report.publish_s);
  metrics.Phase("checkpoint", report.checkpoint_s);
}

void AppendStepCsv(const std::string& path, const StepReport& report) {
  const StepStats& stats = report.stats;
  const double tokens_per_s = TokensPerSecond(stats);
  const bool header = !std::ifstream(path).good();
  std::ofstream csv(path, std::ios::app);
  if (header) {
    csv << "step,loss,grpo,sdl,clip_fraction,ratio_mean,rho_mean,teacher_gap_mean,approx_kl_old,grad_norm,"
           "learning_rate,tokens,tokens_per_second,policy_lag,wait_s,forward_backward_s,optimizer_s,publish_s,"
           "checkpoint_s,groups";
    for (const auto& [name, value] : report.groups.Rates()) csv << "," << name;
    csv << "\n";
  }
  csv << report.version << "," << stats.loss << "," << stats.terms.grpo << "," << stats.terms.sdl << ","
      << stats.terms.clip_fraction << "," << stats.terms.ratio_mean << "," << stats.terms.rho_mean << ","
      << stats.terms.teacher_gap_mean << "," << stats.terms.approx_kl_old << "," << stats.grad_norm << ","
      << stats.learning_rate << "," << stats.tokens << "," << tokens_per_s << "," << report.policy_lag << ","
      << report.wait_s << "," << stats.seconds_forward_backward << "," << stats.seconds_optimizer << ","
      << report.publish_s << "," << report.checkpoint_s << "," << report.trained_group_ids;
  for (const auto& [name, value] : report.groups.Rates()) {
    csv << ",";
    if (value) csv << *value;  // empty: nothing measured this step
  }
  csv << "\n";
  if (!csv.good()) SKILLSD_LOG(WARNING) << "learner: could not append step " << report.version << " to " << path;
}

}  // namespace skillsd::learner
