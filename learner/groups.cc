#include "learner/groups.h"

#include <cmath>

#include "skillsd/v1/common.pb.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "core/token_sequence.h"

namespace skillsd::learner {

absl::Status ValidateGroup(const skillsd::v1::Group& group, const GroupRequirements& req) {
  auto bad = [](const std::string& where, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(where.empty() ? "group" : where, ": ", why));
  };
  if (group.group_id().empty() || group.group_id().size() > 256) return bad("group_id", "must have 1 to 256 bytes");
  if (group.task().task_id().empty()) return bad("task.task_id", "missing");
  if (group.trajectories().empty()) return bad("trajectories", "empty");
  if (group.trajectories_size() > req.max_trajectories) return bad("trajectories", "too many");
  const int64_t version = group.versions().policy_version();
  if (version < 0 || version > req.current_version) {
    return bad("versions.policy_version", absl::StrCat(version, " is not a version the learner has published (current ",
                                                       req.current_version, ")"));
  }
  if (req.needs_teacher && !group.teacher_scored()) return bad("teacher_scored", "this mode needs teacher scores");
  int64_t tokens = 0;
  for (int t = 0; t < group.trajectories_size(); ++t) {
    const auto& traj = group.trajectories(t);
    const std::string tpath = absl::StrCat("trajectories[", t, "]");
    if (traj.policy_version() != version) return bad(tpath + ".policy_version", "differs from the group's");
    if (!std::isfinite(traj.stats().episode_return())) return bad(tpath + ".stats.episode_return", "not finite");
    if (traj.sequences().empty()) return bad(tpath + ".sequences", "empty");
    for (int s = 0; s < traj.sequences_size(); ++s) {
      const auto& seq = traj.sequences(s);
      RETURN_IF_ERROR(ValidateTokenSequence(seq, req.vocab_size, absl::StrCat(tpath, ".sequences[", s, "]")));
      for (int g = 0; g < seq.segments_size(); ++g) {
        const auto& seg = seq.segments(g);
        const std::string path = absl::StrCat(tpath, ".sequences[", s, "].segments[", g, "]");
        const int n = seg.token_ids_size();
        tokens += n;
        if (seg.role() == skillsd::v1::SEGMENT_ROLE_GENERATED) {
          if (seg.behaviour_logprobs_size() != n || seg.loss_mask_size() != n) {
            return bad(path, absl::StrCat(seg.behaviour_logprobs_size(), " log-probs and ", seg.loss_mask_size(),
                                          " mask entries for ", n, " tokens"));
          }
          if (seg.teacher_logprobs_size() != 0 && seg.teacher_logprobs_size() != n) {
            return bad(path, absl::StrCat(seg.teacher_logprobs_size(), " teacher log-probs for ", n, " tokens"));
          }
          if (req.needs_teacher && seg.teacher_logprobs_size() != n) return bad(path, "missing teacher log-probs");
          for (float lp : seg.behaviour_logprobs()) {
            if (!std::isfinite(lp) || lp > 0) return bad(path, "behaviour log-probs must be finite and <= 0");
          }
          for (float lp : seg.teacher_logprobs()) {
            if (!std::isfinite(lp) || lp > 0) return bad(path, "teacher log-probs must be finite and <= 0");
          }
        }
      }
    }
  }
  if (tokens > req.max_tokens) return bad("trajectories", absl::StrCat(tokens, " tokens exceed ", req.max_tokens));
  return absl::OkStatus();
}

std::vector<TrainingSequence> ToTrainingSequences(const skillsd::v1::Group& group, const AdvantageOptions& options) {
  std::vector<double> rewards;
  for (const auto& traj : group.trajectories()) rewards.push_back(traj.stats().episode_return());
  const std::vector<double> advantages = GroupAdvantages(rewards, options.eps, options.sample_std);
  // Generated (loss) tokens per trajectory, for balancing.
  std::vector<double> lengths(group.trajectories_size(), 0);
  for (int t = 0; t < group.trajectories_size(); ++t) {
    for (const auto& seq : group.trajectories(t).sequences()) {
      for (const auto& seg : seq.segments()) {
        if (seg.role() != skillsd::v1::SEGMENT_ROLE_GENERATED) continue;
        for (bool m : seg.loss_mask()) lengths[t] += m ? 1 : 0;
      }
    }
  }
  double mean_length = 0;
  for (double l : lengths) mean_length += l / static_cast<double>(lengths.size());
  std::vector<TrainingSequence> out;
  for (int t = 0; t < group.trajectories_size(); ++t) {
    for (const auto& seq : group.trajectories(t).sequences()) {
      TrainingSequence s;
      s.advantage = advantages[t];
      if (options.balance_trajectories && lengths[t] > 0) s.weight = mean_length / lengths[t];
      for (const auto& seg : seq.segments()) {
        const bool generated = seg.role() == skillsd::v1::SEGMENT_ROLE_GENERATED;
        for (int i = 0; i < seg.token_ids_size(); ++i) {
          s.tokens.push_back(seg.token_ids(i));
          s.loss_mask.push_back(generated && seg.loss_mask(i) ? 1 : 0);
          s.old_logprobs.push_back(generated ? seg.behaviour_logprobs(i) : 0.0f);
          // Without teacher scores (modes with no SDL term) the behaviour log-prob stands in: ℓ is then the
          // policy drift only, and sdl_coef is 0 in those modes anyway.
          s.teacher_logprobs.push_back(!generated                    ? 0.0f
                                       : seg.teacher_logprobs_size() ? seg.teacher_logprobs(i)
                                                                     : seg.behaviour_logprobs(i));
        }
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

}  // namespace skillsd::learner
