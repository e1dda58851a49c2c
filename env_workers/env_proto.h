// Conversions between the Env interface's structs and their protos: the one place a task, a spec, an observation
// or an event changes form (env service, actor, learner, CLI). Messages only, no gRPC.
#ifndef SKILLSD_ENV_WORKERS_ENV_PROTO_H_
#define SKILLSD_ENV_WORKERS_ENV_PROTO_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "env_workers/env.h"
#include "skillsd/v1/common.pb.h"
#include "skillsd/v1/env.pb.h"

namespace skillsd {

skillsd::v1::Split ToProto(Split split);
// INVALID_ARGUMENT for SPLIT_UNSPECIFIED or an unknown value.
absl::StatusOr<Split> FromProto(skillsd::v1::Split split);

// The proto reference of `task` in environment `env`, with its canonical id.
skillsd::v1::TaskRef ToTaskRef(absl::string_view env, const EnvTask& task);
// The task a TaskRef names: by `split` (and index or seed) when set, else by its canonical `task_id`
// ("sokoban/train/17", "sokoban/procedural/99"). INVALID_ARGUMENT when neither names a task.
absl::StatusOr<EnvTask> ToEnvTask(const skillsd::v1::TaskRef& task);

// The spec as GetSpec answers it (train_tasks as TaskRefs with their ids); max_batch_size is the server's.
void ToProto(const EnvSpec& spec, skillsd::v1::GetSpecResponse* out);
// INVALID_ARGUMENT when a listed training task names no task.
absl::StatusOr<EnvSpec> FromProto(const skillsd::v1::GetSpecResponse& spec);

void ToProto(const ActionEvent& event, skillsd::v1::StepEvent* out);
void ToProto(const EpisodeTotals& totals, skillsd::v1::EpisodeStats* out);
void ToProto(const EnvTurn& turn, skillsd::v1::Observation* out);
ActionEvent FromProto(const skillsd::v1::StepEvent& event);
EpisodeTotals FromProto(const skillsd::v1::EpisodeStats& stats);
// task_id is not part of an Observation; the caller sets it.
EnvTurn FromProto(const skillsd::v1::Observation& observation);

}  // namespace skillsd

#endif  // SKILLSD_ENV_WORKERS_ENV_PROTO_H_
