// Groups for the learner's unit tests.
#ifndef SKILLSD_LEARNER_TEST_GROUPS_H_
#define SKILLSD_LEARNER_TEST_GROUPS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "skillsd/v1/rollout.pb.h"

namespace skillsd::learner {

// A valid group: G trajectories, each one sequence [prompt, skill slot, generated, observation, generated].
inline skillsd::v1::Group MakeGroup(const std::string& id, int64_t version, const std::vector<double>& rewards) {
  skillsd::v1::Group g;
  g.set_group_id(id);
  g.mutable_task()->set_task_id("sokoban/train/3");
  g.mutable_versions()->set_policy_version(version);
  g.set_teacher_scored(true);
  for (size_t t = 0; t < rewards.size(); ++t) {
    auto* traj = g.add_trajectories();
    traj->set_policy_version(version);
    traj->mutable_stats()->set_episode_return(rewards[t]);
    auto* seq = traj->add_sequences();
    auto add = [&](skillsd::v1::SegmentRole role, std::vector<int32_t> ids) {
      auto* seg = seq->add_segments();
      seg->set_role(role);
      for (int32_t id : ids) {
        seg->add_token_ids(id);
        if (role == skillsd::v1::SEGMENT_ROLE_GENERATED) {
          seg->add_behaviour_logprobs(-1.0f - 0.1f * static_cast<float>(id % 3));
          seg->add_loss_mask(true);
          seg->add_teacher_logprobs(-0.5f);
        }
      }
    };
    add(skillsd::v1::SEGMENT_ROLE_PROMPT, {1, 2, 3});
    add(skillsd::v1::SEGMENT_ROLE_SKILL_SLOT, {});
    add(skillsd::v1::SEGMENT_ROLE_GENERATED, {4, 5});
    add(skillsd::v1::SEGMENT_ROLE_OBSERVATION, {6});
    add(skillsd::v1::SEGMENT_ROLE_GENERATED, {7});
  }
  return g;
}

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_TEST_GROUPS_H_
