#include "core/signals.h"

#include <pthread.h>
#include <signal.h>

#include <thread>

namespace skillsd {
namespace {

sigset_t ShutdownSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void BlockShutdownSignals() {
  sigset_t set = ShutdownSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int WaitForShutdownSignal() {
  sigset_t set = ShutdownSet();
  int signo = 0;
  while (sigwait(&set, &signo) != 0) {
  }
  return signo;
}

void WatchShutdownSignals(std::function<void(int)> on_signal) {
  std::thread([on_signal = std::move(on_signal)] { on_signal(WaitForShutdownSignal()); }).detach();
}

}  // namespace skillsd
