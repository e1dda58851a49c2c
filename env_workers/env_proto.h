// Conversions between the Env interface's structs and their protos (env service, actor, skill service).
#ifndef SKILLSD_ENV_WORKERS_ENV_PROTO_H_
#define SKILLSD_ENV_WORKERS_ENV_PROTO_H_

#include "env_workers/env.h"
#include "skillsd/v1/env.pb.h"

namespace skillsd {

void ToProto(const ActionEvent& event, skillsd::v1::StepEvent* out);
void ToProto(const EpisodeTotals& totals, skillsd::v1::EpisodeStats* out);
void ToProto(const EnvTurn& turn, skillsd::v1::Observation* out);
ActionEvent FromProto(const skillsd::v1::StepEvent& event);
EpisodeTotals FromProto(const skillsd::v1::EpisodeStats& stats);
// task_id is not part of an Observation; the caller sets it.
EnvTurn FromProto(const skillsd::v1::Observation& observation);

}  // namespace skillsd

#endif  // SKILLSD_ENV_WORKERS_ENV_PROTO_H_
