#include "tests/test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <regex>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/status.h"

extern char** environ;

namespace skillsd::testing {

std::string MakeTempDir() {
  char pattern[] = "/tmp/skillsd_test_XXXXXX";
  const char* dir = mkdtemp(pattern);
  return dir == nullptr ? "/tmp" : dir;
}

std::string BinaryPath(const std::string& name) {
  const char* dir = std::getenv("SKILLSD_BIN_DIR");
  return absl::StrCat(dir == nullptr ? "build/bin" : dir, "/", name);
}

absl::StatusOr<Subprocess> Subprocess::Start(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!log_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  }
  // The child must not inherit blocked signals from the test's threads.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  const int err = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return absl::InternalError(absl::StrCat("cannot start ", argv[0], ": ", strerror(err)));
  return Subprocess(pid);
}

Subprocess::Subprocess(Subprocess&& other) noexcept : pid_(other.pid_), reaped_(other.reaped_) { other.pid_ = -1; }

Subprocess::~Subprocess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void Subprocess::Signal(int signo) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, signo);
}

absl::StatusOr<int> Subprocess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (absl::Now() > deadline) return absl::DeadlineExceededError("process still running");
    absl::SleepFor(absl::Milliseconds(10));
  }
}

absl::StatusOr<std::map<std::string, int>> WaitForPortFile(const std::string& path, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    absl::StatusOr<std::string> text = ReadFile(path);
    if (text.ok()) {
      std::map<std::string, int> fields;
      std::regex field("\"([a-z_]+)\": (-?[0-9]+)");
      for (std::sregex_iterator it(text->begin(), text->end(), field), end; it != end; ++it) {
        fields[(*it)[1]] = std::stoi((*it)[2]);
      }
      if (fields.count("grpc_port")) return fields;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("no port file at ", path));
}

absl::StatusOr<int> ConnectLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot connect to port ", port));
  }
  return fd;
}

absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  absl::StatusOr<int> connected = ConnectLoopback(port);
  if (!connected.ok()) return connected.status();
  const int fd = *connected;
  timeval timeout{20, 0};  // a server that never answers fails the call instead of hanging the test
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return absl::InternalError("write");
  }
  std::string response;
  char buffer[8192];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos || response.find(" 200 ") == std::string::npos) {
    return absl::InternalError(absl::StrCat("bad HTTP response: ", response.substr(0, 200)));
  }
  return response.substr(body + 4);
}

CommandResult RunCommand(const std::string& command) {
  CommandResult result{-1, ""};
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

absl::Status GenerateCertificates(const std::string& dir) {
  const std::string script =
      absl::StrCat("set -e; cd ", dir, "\n",
                   "cat > ext.cnf <<'EOF'\n"
                   "[server]\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"
                   "[client]\nextendedKeyUsage=clientAuth\n"
                   "EOF\n"
                   "for ca in ca rogue_ca; do\n"
                   "  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=$ca -keyout $ca.key -out $ca.pem\n"
                   "done\n"
                   "sign() {  # name ca extension\n"
                   "  openssl req -newkey rsa:2048 -nodes -subj /CN=$1 -keyout $1.key -out $1.csr\n"
                   "  openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial -days 2 -extfile ext.cnf "
                   "-extensions $3 -out $1.pem\n"
                   "}\n"
                   "sign server ca server\n"
                   "sign client ca client\n"
                   "sign rogue_client rogue_ca client\n");
  CommandResult r = RunCommand(absl::StrCat("bash -c '", std::regex_replace(script, std::regex("'"), "'\\''"), "'"));
  if (r.exit_code != 0) return absl::InternalError(absl::StrCat("openssl failed: ", r.output));
  return absl::OkStatus();
}

}  // namespace skillsd::testing
