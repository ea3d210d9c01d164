// The server's side of its executor process (worker_protocol.h).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "server/worker_protocol.h"

extern char** environ;

namespace sf::host {

WorkerProcess::~WorkerProcess() {
  // Closing its stdin ends the worker's loop (and interrupts a running node); reap() ends a
  // worker that does not exit on its own.
  {
    std::lock_guard<std::mutex> lock(m_);
    if (to_child_ >= 0) ::close(to_child_);
    to_child_ = -1;
  }
  reap();
}

bool WorkerProcess::ensure_started(std::string& error) {
  std::lock_guard<std::mutex> lock(m_);
  if (pid_ > 0) {
    // Still running? A worker that died while idle is replaced here: a write to its stdin need not
    // fail (a child it forked may still hold the pipe open).
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
    std::fprintf(stderr, "serve: the idle executor process ended (%s); starting a new one\n",
                 WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited");
    ::close(to_child_);
    ::close(from_child_);
    to_child_ = from_child_ = -1;
    pid_ = -1;
  }
  if (argv_.empty()) {
    error = "no command to start the executor process with";
    return false;
  }
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  if (::pipe2(out, O_CLOEXEC) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    ::close(in[0]);
    ::close(in[1]);
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], kWorkerProtocolFd);
  // Its own process group: a terminal's Ctrl-C reaches the server, which stops the worker itself.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGUSR1}) sigaddset(&defaults, s);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> argv;
  for (auto& a : argv_) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv_[0].c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    error = "cannot start the executor process " + argv_[0] + ": " + std::strerror(rc);
    return false;
  }
  pid_ = pid;
  to_child_ = in[1];
  from_child_ = out[0];
  buffer_.clear();
  return true;
}

bool WorkerProcess::send(const std::string& line) {
  std::lock_guard<std::mutex> lock(m_);
  if (to_child_ < 0) return false;
  const std::string text = line + "\n";
  for (size_t done = 0; done < text.size();) {
    ssize_t n = ::write(to_child_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // EPIPE: the worker has gone (SIGPIPE is ignored by the server)
    done += static_cast<size_t>(n);
  }
  return true;
}

bool WorkerProcess::read_line(std::string& line) {
  int fd;
  {
    std::lock_guard<std::mutex> lock(m_);
    fd = from_child_;
  }
  if (fd < 0) return false;
  for (;;) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return true;
    }
    char chunk[65536];
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

std::string WorkerProcess::reap() {
  std::lock_guard<std::mutex> lock(m_);
  if (to_child_ >= 0) ::close(to_child_);
  if (from_child_ >= 0) ::close(from_child_);
  to_child_ = from_child_ = -1;
  if (pid_ <= 0) return "the executor process was not running";
  int status = 0;
  pid_t pid = pid_;
  pid_ = -1;
  // Its protocol pipe has closed (or its stdin was closed), so it is exiting; a process that
  // lingers gets SIGTERM after a second (in-flight temporary files are removed), then SIGKILL.
  for (int i = 0; i < 200; ++i) {
    if (i == 100) ::kill(pid, SIGTERM);
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      if (WIFSIGNALED(status))
        return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
      return "exited with code " + std::to_string(WEXITSTATUS(status));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return "stopped answering and was killed";
}

void WorkerProcess::signal(int sig) {
  std::lock_guard<std::mutex> lock(m_);  // reap() clears pid_ under it: no signal to a reused pid
  if (pid_ > 0) ::kill(pid_, sig);
}

}  // namespace sf::host
