// The gRPC face of Teacher (skillsd.v1.TeacherService). Owns the teacher, its model holder and tokenizer, and
// the weights subscription that installs the learner's teacher snapshots.
#ifndef SKILLSD_TEACHER_SERVER_TEACHER_SERVICE_H_
#define SKILLSD_TEACHER_SERVER_TEACHER_SERVICE_H_

#include <memory>

#include "core/channel.h"
#include "core/config.h"
#include "skillsd/v1/teacher.grpc.pb.h"
#include "teacher_server/teacher.h"
#include "weights/subscriber.h"

namespace skillsd::teacher {

TeacherOptions TeacherOptionsFromConfig(const ExperimentConfig& config);

// Thread-safe: Score calls run concurrently and meet in the Teacher's batching queue; the subscriber installs new
// weights into the holder from its own thread.
class TeacherServiceImpl final : public skillsd::v1::TeacherService::Service {
 public:
  // Loads the model (its architecture; the weights the teacher scores with come from the learner, or stay these
  // when `learner` is empty) and tokenizer from `model_dir`.
  static absl::StatusOr<std::unique_ptr<TeacherServiceImpl>> Create(const ExperimentConfig& config,
                                                                    const std::string& model_dir,
                                                                    const std::string& learner,
                                                                    const ChannelOptions& channel_options);
  ~TeacherServiceImpl() override;

  grpc::Status Score(grpc::ServerContext* context, const skillsd::v1::ScoreRequest* request,
                     skillsd::v1::ScoreResponse* response) override;
  grpc::Status GetStatus(grpc::ServerContext* context, const skillsd::v1::GetTeacherStatusRequest* request,
                         skillsd::v1::GetTeacherStatusResponse* response) override;

 private:
  TeacherServiceImpl() = default;
  std::unique_ptr<model::Tokenizer> tokenizer_;
  std::shared_ptr<weights::ModelHolder> holder_;
  std::unique_ptr<Teacher> teacher_;
  std::unique_ptr<weights::WeightsSubscriber> subscriber_;
};

}  // namespace skillsd::teacher

#endif  // SKILLSD_TEACHER_SERVER_TEACHER_SERVICE_H_
