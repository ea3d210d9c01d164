// `sigmaflow serve` under load on loopback: 8 concurrent clients queue 200 prompts (a small
// schedule graph, each with its own step count so none is served from the cache), while another
// thread polls GET /object_info. Reports p50/p99 latency of POST /prompt and GET /object_info,
// the throughput, and checks that the history holds every prompt exactly once, all successful.
//   bench_serve [prompts=200] [clients=8]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "serve_process.h"

namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

std::string http(int port, const std::string& method, const std::string& target, const std::string& body = "") {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(s);
    return "";
  }
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  send(s, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[65536];
  for (ssize_t n; (n = recv(s, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(s);
  size_t at = out.find("\r\n\r\n");
  return at == std::string::npos ? "" : out.substr(at + 4);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  const int prompts = argc > 1 ? std::atoi(argv[1]) : 200, clients = argc > 2 ? std::atoi(argv[2]) : 8;
  std::string out = (std::filesystem::temp_directory_path() / "sigmaflow-bench-serve").string();
  std::filesystem::remove_all(out);
  const sf::bench::ServeProcess server = sf::bench::spawn_serve(out);
  const pid_t pid = server.pid;
  const int port = server.port;
  if (port == 0) return 1;
  std::mutex mu;
  std::vector<double> post_ms, info_ms;
  std::set<std::string> ids;
  std::atomic<int> next{0};
  std::atomic<bool> done{false};
  auto t0 = clock_type::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&] {
      for (int i; (i = next++) < prompts;) {
        json g = {
            {"1",
             {{"class_type", "KarrasScheduler"},
              {"inputs", {{"steps", 2 + i}, {"sigma_min", 0.002}, {"sigma_max", 80}}}}},
            {"2", {{"class_type", "SaveSigmas"}, {"inputs", {{"sigmas", {"1", 0}}, {"filename_prefix", "s/p"}}}}}};
        auto a = clock_type::now();
        std::string body = http(port, "POST", "/prompt", json{{"prompt", g}, {"client_id", "load"}}.dump());
        double ms = std::chrono::duration<double, std::milli>(clock_type::now() - a).count();
        auto j = json::parse(body, nullptr, false);
        std::lock_guard<std::mutex> lock(mu);
        post_ms.push_back(ms);
        if (j.is_object() && j.contains("prompt_id")) ids.insert(j["prompt_id"].get<std::string>());
      }
    });
  std::thread info([&] {
    while (!done) {
      auto a = clock_type::now();
      http(port, "GET", "/object_info");
      std::lock_guard<std::mutex> lock(mu);
      info_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - a).count());
    }
  });
  for (auto& t : threads) t.join();
  // Wait until the queue is empty.
  for (;;) {
    auto q = json::parse(http(port, "GET", "/prompt"), nullptr, false);
    if (q.is_object() && q["exec_info"]["queue_remaining"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  double seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  done = true;
  info.join();
  auto history = json::parse(http(port, "GET", "/history"), nullptr, false);
  int success = 0, known = 0;
  for (auto& [id, entry] : history.items()) {
    known += ids.count(id) ? 1 : 0;
    success += entry["status"]["status_str"] == "success" ? 1 : 0;
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  std::printf(
      "| prompts | clients | accepted | in history | successful | total s | prompts/s | POST /prompt p50 / p99 ms | "
      "GET /object_info p50 / p99 ms (n) | server exit |\n|---|---|---|---|---|---|---|---|---|---|\n");
  std::printf("| %d | %d | %zu | %d | %d | %.2f | %.1f | %.2f / %.2f | %.2f / %.2f (%zu) | %d |\n", prompts, clients,
              ids.size(), known, success, seconds, prompts / seconds, percentile(post_ms, 0.5),
              percentile(post_ms, 0.99), percentile(info_ms, 0.5), percentile(info_ms, 0.99), info_ms.size(),
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  std::filesystem::remove_all(out);
  std::filesystem::remove_all(out + "-cache");
  return ids.size() == static_cast<size_t>(prompts) && known == prompts && success == prompts ? 0 : 1;
}
