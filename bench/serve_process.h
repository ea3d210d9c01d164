// Starts `sigmaflow serve --port 0 --out OUT [extra...]` for the server benchmarks and reads the
// port it listens on from its stdout. The caller owns the process (SIGTERM, waitpid).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

namespace sf::bench {

struct ServeProcess {
  pid_t pid = -1;
  int port = 0;  // 0: the server did not report one (it exited or failed to start)
};

inline ServeProcess spawn_serve(const std::string& out, const std::vector<std::string>& extra = {}) {
  ServeProcess p;
  int fds[2];
  if (pipe(fds) != 0) return p;
  std::vector<std::string> args{SF_SIGMAFLOW_EXE, "serve", "--port", "0", "--out", out};
  args.insert(args.end(), extra.begin(), extra.end());
  p.pid = fork();
  if (p.pid == 0) {
    dup2(fds[1], 1);
    setenv("SIGMAFLOW_CACHE_DIR", (out + "-cache").c_str(), 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(SF_SIGMAFLOW_EXE, argv.data());
    _exit(127);
  }
  close(fds[1]);
  std::string text;
  std::smatch m;
  const std::regex re("127\\.0\\.0\\.1:(\\d+)");
  while (!std::regex_search(text, m, re)) {
    char buf[256];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) return p;
    text.append(buf, static_cast<size_t>(n));
  }
  p.port = std::stoi(m[1]);
  return p;
}

}  // namespace sf::bench
