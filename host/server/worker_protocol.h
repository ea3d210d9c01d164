// The server's executor runs in a child process (`sigmaflow serve-worker`), so a node that crashes
// ends its prompt, not the server. The two talk in JSON lines:
//
//   server -> worker (the worker's stdin):
//     {"run": {"id": ID, "prompt": GRAPH}}   run one validated prompt
//     {"interrupt": ID}                        stop prompt ID at its next step (if it is running)
//   worker -> server (the worker's fd 3; stdout and stderr stay the server's log):
//     {"type": T, "data": D}                   a websocket event of the running prompt
//     {"done": {"ok": B, "outputs": O, "messages": M}}   the prompt ended (history parts)
//
// The worker keeps node outputs cached between prompts; a restarted worker starts empty.
// Threading: the worker reads its stdin on a thread of its own, so an interrupt reaches a node
// while it runs.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "exec/executor.h"
#include "exec/node_source.h"

namespace sf::host {

// The file descriptor the worker writes its protocol lines to.
inline constexpr int kWorkerProtocolFd = 3;

// The worker's main loop: runs prompts from stdin until it closes. Returns an exit code.
int run_serve_worker(const NodeSource& source, const RunOptions& base);

// The server's side: one worker process at a time, started on demand. Thread-safe: the executor
// thread runs prompts, request threads send interrupts.
class WorkerProcess {
 public:
  // `argv`: the command that starts a worker (argv[0] is the executable's path).
  explicit WorkerProcess(std::vector<std::string> argv) : argv_(std::move(argv)) {}
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  // Starts the process unless it runs; false (with `error`) when it cannot.
  bool ensure_started(std::string& error);
  // Writes one line to the worker; false when it has gone.
  bool send(const std::string& line);
  // The next protocol line; false at end of stream (the worker exited or crashed).
  bool read_line(std::string& line);
  // After read_line returned false: reaps the worker and says how it ended ("exited with code 4",
  // "killed by signal 11 (Segmentation fault)"). The next ensure_started starts a new one.
  std::string reap();
  // Sends `sig` to the worker if it runs (SIGTERM: it removes in-flight temporary files and
  // exits). Safe from any thread; the executor thread's read then ends.
  void signal(int sig);

 private:
  std::vector<std::string> argv_;
  int pid_ = -1;
  int to_child_ = -1, from_child_ = -1;
  std::string buffer_;
  mutable std::mutex m_;  // pid_ and the pipe ends; writes
};

}  // namespace sf::host
