// Helpers for integration tests: temp dirs, child processes, port files, HTTP GET, shell commands, and test
// certificates made with the openssl command-line tool.
#ifndef SKILLSD_TESTS_TEST_UTIL_H_
#define SKILLSD_TESTS_TEST_UTIL_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace skillsd::testing {

// A fresh directory under /tmp.
std::string MakeTempDir();

// build/bin/<name> (from SKILLSD_BIN_DIR, set by ctest).
std::string BinaryPath(const std::string& name);

// A child process. Killed (SIGKILL) on destruction if still running.
class Subprocess {
 public:
  // Starts argv[0] with arguments; stdout and stderr go to `log_path` (empty = inherit).
  static absl::StatusOr<Subprocess> Start(const std::vector<std::string>& argv, const std::string& log_path = "");
  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  void Signal(int signo);
  // Waits up to `timeout` for exit; returns the exit code (128+signal when killed), or DEADLINE_EXCEEDED.
  absl::StatusOr<int> Wait(absl::Duration timeout);

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// Waits until `path` exists and holds the JSON a GrpcServer writes; returns its integer fields.
absl::StatusOr<std::map<std::string, int>> WaitForPortFile(const std::string& path, absl::Duration timeout);

// GET http://127.0.0.1:port<path>; returns the body of a 200 response.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path);
// A TCP connection to 127.0.0.1:port (the caller closes the descriptor).
absl::StatusOr<int> ConnectLoopback(int port);

// Runs a shell command; returns its exit code and combined output.
struct CommandResult {
  int exit_code;
  std::string output;
};
CommandResult RunCommand(const std::string& command);

// Test PKI in `dir`: ca.pem/ca.key, server.pem/server.key (SAN localhost, 127.0.0.1), client.pem/client.key
// (signed by the CA), and rogue_ca.pem plus rogue_client.pem/rogue_client.key (signed by another CA).
absl::Status GenerateCertificates(const std::string& dir);

}  // namespace skillsd::testing

#endif  // SKILLSD_TESTS_TEST_UTIL_H_
