#include "teacher_server/teacher_service.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/grpc_status.h"
#include "core/logging.h"
#include "core/status.h"
#include "skillsd/v1/weights.grpc.pb.h"

namespace skillsd::teacher {

TeacherOptions TeacherOptionsFromConfig(const ExperimentConfig& config) {
  TeacherOptions o;
  o.skill_template = config.teacher.skill_template;
  o.max_batch_sequences = config.teacher.max_batch_sequences;
  o.batch_timeout = absl::Milliseconds(config.teacher.batch_timeout_ms);
  o.version_wait = absl::Milliseconds(config.teacher.version_wait_ms);
  o.max_queued_requests = config.teacher.queue_capacity;
  return o;
}

absl::StatusOr<std::unique_ptr<TeacherServiceImpl>> TeacherServiceImpl::Create(const ExperimentConfig& config,
                                                                               const std::string& model_dir,
                                                                               const std::string& learner,
                                                                               const ChannelOptions& channel_options) {
  std::unique_ptr<TeacherServiceImpl> service(new TeacherServiceImpl());
  ASSIGN_OR_RETURN(service->tokenizer_, model::Tokenizer::FromFile(model_dir + "/tokenizer.json"));
  ASSIGN_OR_RETURN(model::ChatTemplate chat, model::ChatTemplate::Create(service->tokenizer_.get()));
  ASSIGN_OR_RETURN(model::CausalLM model,
                   model::LoadModel(model_dir, torch::Device(config.model.device), model::ToTorch(config.model.dtype)));
  // Without a learner the weights on disk are the teacher (version 0); with one, nothing is scored before the
  // learner's first snapshot arrives (version -1 until then).
  service->holder_ = std::make_shared<weights::ModelHolder>(std::move(model), learner.empty() ? 0 : -1);
  service->teacher_ = std::make_unique<Teacher>(service->holder_, service->tokenizer_.get(), std::move(chat),
                                                TeacherOptionsFromConfig(config));
  if (!learner.empty()) {
    ASSIGN_OR_RETURN(auto channel,
                     CreateChannel(learner, channel_options, {DescriptorOf<skillsd::v1::WeightsService>()}));
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    Teacher* teacher = service->teacher_.get();
    weights::ModelHolder* holder = service->holder_.get();
    service->subscriber_ = std::make_unique<weights::WeightsSubscriber>(
        channel, absl::StrCat("teacher-", host, "-", getpid()), skillsd::v1::SUBSCRIBER_ROLE_TEACHER,
        [teacher, holder](const weights::Snapshot& snapshot) -> absl::Status {
          RETURN_IF_ERROR(holder->Install(snapshot));
          teacher->NotifyInstalled();
          SKILLSD_LOG(INFO) << "teacher: installed version " << snapshot.version;
          return absl::OkStatus();
        });
    service->subscriber_->Start();
  }
  return service;
}

TeacherServiceImpl::~TeacherServiceImpl() {
  if (subscriber_ != nullptr) subscriber_->Stop();
}

grpc::Status TeacherServiceImpl::Score(grpc::ServerContext* context, const skillsd::v1::ScoreRequest* request,
                                       skillsd::v1::ScoreResponse* response) {
  absl::StatusOr<skillsd::v1::ScoreResponse> result = teacher_->Score(*request, absl::FromChrono(context->deadline()));
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = std::move(result).value();
  return grpc::Status::OK;
}

grpc::Status TeacherServiceImpl::GetStatus(grpc::ServerContext*, const skillsd::v1::GetTeacherStatusRequest*,
                                           skillsd::v1::GetTeacherStatusResponse* response) {
  response->set_teacher_version(teacher_->version());
  response->set_queue_depth(teacher_->queue_depth());
  return grpc::Status::OK;
}

}  // namespace skillsd::teacher
