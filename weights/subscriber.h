// The actor's and the teacher's side of weight distribution: keeps a Subscribe stream open to the learner
// (reconnecting with backoff), reassembles and verifies each snapshot, and hands complete ones to an install
// function. A snapshot that fails verification or installation is counted and dropped; the installed weights
// stay. Thread-safe.
#ifndef SKILLSD_WEIGHTS_SUBSCRIBER_H_
#define SKILLSD_WEIGHTS_SUBSCRIBER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "skillsd/v1/weights.pb.h"
#include "weights/snapshot.h"

namespace skillsd::weights {

class WeightsSubscriber {
 public:
  // Installs a verified snapshot; an error leaves the previous weights in place.
  using InstallFn = std::function<absl::Status(const Snapshot&)>;

  WeightsSubscriber(std::shared_ptr<grpc::Channel> channel, std::string subscriber_id, skillsd::v1::SubscriberRole role,
                    InstallFn install);
  ~WeightsSubscriber();  // Stop()

  void Start();
  // Cancels the stream and joins the thread.
  void Stop();

  int64_t installed_version() const;
  int64_t rejected() const { return rejected_.load(); }
  // Blocks until a version >= `version` is installed; false on timeout.
  bool WaitForVersion(int64_t version, absl::Duration timeout) const;

 private:
  void Run();

  std::shared_ptr<grpc::Channel> channel_;
  const std::string id_;
  const skillsd::v1::SubscriberRole role_;
  InstallFn install_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> rejected_{0};
  mutable absl::Mutex mu_;
  int64_t installed_ ABSL_GUARDED_BY(mu_) = -1;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace skillsd::weights

#endif  // SKILLSD_WEIGHTS_SUBSCRIBER_H_
