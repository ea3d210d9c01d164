// `sigmaflow serve` when things go wrong, measured on loopback (a benchmark, not a test):
//   interrupt  for each long stock node: start it, wait a random 0.2-1.5 s after its `executing`
//              event, POST /interrupt, and time until `execution_interrupted` arrives
//   sigterm    a running prompt plus 20 pending: SIGTERM to exit, and how many clients were told
//   load       500 prompts from 4 clients while a fifth fetches a ~100 MB history in a loop: p50 /
//              p99 of POST /prompt, none lost
//   bench_serve_safety [interrupt|sigterm|load|all] [seed=1]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "serve_process.h"

namespace {

namespace beast = boost::beast;
namespace fs = std::filesystem;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;
using tcp = boost::asio::ip::tcp;

double since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

struct Server {
  pid_t pid = -1;
  int port = 0;
  std::string out;
  explicit Server(const std::string& name) {
    out = (fs::temp_directory_path() / ("sigmaflow-bench-" + name)).string();
    for (const char* s : {"", "-cache", "-input", "-models"}) fs::remove_all(out + s);
    const sf::bench::ServeProcess p = sf::bench::spawn_serve(
        out, {"--input-dir", out + "-input", "--models-dir", out + "-models", "--max-body-mb", "8"});
    pid = p.pid;
    port = p.port;
  }
  int stop() {
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    for (const char* s : {"", "-cache", "-input", "-models"}) fs::remove_all(out + s);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

std::string http(int port, const std::string& method, const std::string& target, const std::string& body = "") {
  try {
    boost::asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    beast::http::request<beast::http::string_body> req{
        method == "POST" ? beast::http::verb::post : beast::http::verb::get, target, 11};
    req.set(beast::http::field::host, "127.0.0.1");
    req.set(beast::http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    beast::http::write(stream, req);
    beast::flat_buffer buf;
    beast::http::response_parser<beast::http::string_body> res;
    res.body_limit(uint64_t{1} << 31);
    beast::http::read(stream, buf, res);
    return res.get().body();
  } catch (const std::exception&) {
    return "";
  }
}

class Ws {
 public:
  Ws(int port, const std::string& client) : ws_(ioc_) {
    tcp::resolver resolver(ioc_);
    beast::get_lowest_layer(ws_).connect(resolver.resolve("127.0.0.1", std::to_string(port)));
    ws_.handshake("127.0.0.1", "/ws?clientId=" + client);
  }
  std::pair<std::string, json> next(int timeout_s = 600) {
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(timeout_s));
    beast::flat_buffer buf;
    beast::error_code ec;
    ws_.read(buf, ec);
    if (ec) return {"", json()};
    json j = json::parse(beast::buffers_to_string(buf.data()), nullptr, false);
    return {j.value("type", ""), j.is_object() ? j["data"] : json()};
  }

 private:
  boost::asio::io_context ioc_;
  beast::websocket::stream<beast::tcp_stream> ws_;
};

std::string submit(int port, const json& graph, const std::string& client, const json& extra = json::object()) {
  auto r = json::parse(
      http(port, "POST", "/prompt", json{{"prompt", graph}, {"client_id", client}, {"extra_data", extra}}.dump()),
      nullptr, false);
  return r.is_object() ? r.value("prompt_id", "") : "";
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

json ring8() { return {{"class_type", "GaussianMixtureModel"}, {"inputs", {{"preset", "ring8"}}}}; }

// Long stock nodes: (label, graph, the node to interrupt). Sizes are chosen to run for minutes.
std::vector<std::tuple<std::string, json, std::string>> long_nodes() {
  json report = {{"class_type", "CompareReport"}, {"inputs", {{"filename_prefix", "r/r"}}}};
  auto with_report = [&](json g, const std::string& port, const std::string& from) {
    json r = report;
    r["inputs"][port] = {from, 0};
    g["r"] = r;
    return g;
  };
  std::vector<std::tuple<std::string, json, std::string>> out;
  out.emplace_back(
      "KSampler (heun, 10000 steps)",
      json{{"m", ring8()},
           {"l", {{"class_type", "EmptyLatent"}, {"inputs", {{"model", {"m", 0}}, {"batch_size", 20000}}}}},
           {"k",
            {{"class_type", "KSampler"},
             {"inputs",
              {{"model", {"m", 0}},
               {"latent_image", {"l", 0}},
               {"steps", 10000},
               {"sampler_name", "heun"},
               {"scheduler", "karras"}}}}},
           {"o", {{"class_type", "SaveLatent"}, {"inputs", {{"samples", {"k", 0}}}}}}},
      "k");
  out.emplace_back("ScheduleSweep (reference solve)",
                   with_report({{"m", ring8()},
                                {"s",
                                 {{"class_type", "ScheduleSweep"},
                                  {"inputs",
                                   {{"model", {"m", 0}},
                                    {"schedulers", "karras"},
                                    {"samplers", "euler"},
                                    {"steps_list", "5"},
                                    {"batch", 20000},
                                    {"reference_steps", 100000}}}}}},
                               "report", "s"),
                   "s");
  out.emplace_back(
      "LogLikelihood",
      with_report({{"m", ring8()},
                   {"n",
                    {{"class_type", "LogLikelihood"},
                     {"inputs",
                      {{"model", {"m", 0}}, {"reference_model", {"m", 0}}, {"samples", 1 << 16}, {"steps", 100000}}}}}},
                  "metric_1", "n"),
      "n");
  out.emplace_back(
      "ScoreError",
      with_report(
          {{"m", ring8()},
           {"n",
            {{"class_type", "ScoreError"},
             {"inputs", {{"model", {"m", 0}}, {"reference_model", {"m", 0}}, {"samples", 1 << 22}, {"bands", 1000}}}}}},
          "metric_1", "n"),
      "n");
  out.emplace_back("SampleData (2^24 samples)",
                   json{{"m", ring8()},
                        {"d", {{"class_type", "SampleData"}, {"inputs", {{"model", {"m", 0}}, {"n", 1 << 24}}}}},
                        {"o", {{"class_type", "SaveLatent"}, {"inputs", {{"samples", {"d", 0}}}}}}},
                   "d");
  out.emplace_back("FitGaussianMixture (EM)",
                   json{{"m", ring8()},
                        {"d", {{"class_type", "SampleData"}, {"inputs", {{"model", {"m", 0}}, {"n", 1 << 18}}}}},
                        {"f",
                         {{"class_type", "FitGaussianMixture"},
                          {"inputs", {{"dataset", {"d", 0}}, {"components", 1000}, {"iterations", 100000}}}}},
                        {"x", {{"class_type", "SampleData"}, {"inputs", {{"model", {"f", 0}}, {"n", 10}}}}},
                        {"o", {{"class_type", "SaveLatent"}, {"inputs", {{"samples", {"x", 0}}}}}}},
                   "f");
  out.emplace_back(
      "ScoreOptimalScheduler (2^20 particles, no cache)",
      json{{"m", ring8()},
           {"s",
            {{"class_type", "ScoreOptimalScheduler"},
             {"inputs", {{"model", {"m", 0}}, {"particles", 1 << 20}, {"grid_size", 8192}, {"use_cache", false}}}}},
           {"o", {{"class_type", "SaveSigmas"}, {"inputs", {{"sigmas", {"s", 0}}}}}}},
      "s");
  out.emplace_back("TrainDenoiser (100000 steps)",
                   json{{"m", ring8()},
                        {"d", {{"class_type", "SampleData"}, {"inputs", {{"model", {"m", 0}}, {"n", 4096}}}}},
                        {"t", {{"class_type", "TrainDenoiser"}, {"inputs", {{"data", {"d", 0}}, {"steps", 100000}}}}},
                        {"o", {{"class_type", "SaveSigmas"}, {"inputs", {{"sigmas", {"t", 1}}}}}}},
                   "t");
  return out;
}

int bench_interrupt(unsigned seed) {
  Server s("safety-interrupt");
  Ws ws(s.port, "b");
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> wait(0.2, 1.5);
  std::printf("| node | interrupted after s | latency s | outcome |\n|---|---|---|---|\n");
  double worst = 0;
  for (auto& [label, graph, node] : long_nodes()) {
    std::string id = submit(s.port, graph, "b");
    if (id.empty()) {
      std::printf("| %s | | | refused at validation |\n", label.c_str());
      continue;
    }
    clock_type::time_point started{};
    std::string outcome;
    for (;;) {
      auto [type, data] = ws.next();
      if (type.empty()) break;
      if (type == "executing" && data["node"] == node && data.value("prompt_id", "") == id) {
        started = clock_type::now();
        break;
      }
      if ((type == "execution_error" || type == "execution_success") && data.value("prompt_id", "") == id) {
        outcome = type + " before the node started: " + data.value("exception_message", "");
        break;
      }
    }
    if (!outcome.empty()) {
      std::printf("| %s | | | %s |\n", label.c_str(), outcome.substr(0, 200).c_str());
      continue;
    }
    const double delay = wait(rng);
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    auto sent = clock_type::now();
    http(s.port, "POST", "/interrupt", json{{"prompt_id", id}}.dump());
    double latency = -1;
    for (;;) {
      auto [type, data] = ws.next();
      if (type.empty()) break;
      if (data.is_object() && data.value("prompt_id", "") != id) continue;
      if (type == "execution_interrupted" || type == "execution_success" || type == "execution_error") {
        latency = since(sent);
        outcome = type == "execution_interrupted" ? "interrupted in node " + data.value("node_id", "")
                                                  : type + " (" + data.value("exception_message", "") + ")";
        break;
      }
    }
    worst = std::max(worst, latency);
    std::printf("| %s | %.2f | %.3f | %s |\n", label.c_str(), delay, latency, outcome.substr(0, 160).c_str());
    std::fflush(stdout);
    (void)started;
  }
  std::printf("worst latency %.3f s; server exit %d\n", worst, s.stop());
  return 0;
}

int bench_sigterm() {
  Server s("safety-sigterm");
  Ws ws(s.port, "t");
  json long_graph = std::get<1>(long_nodes()[0]);
  std::string running = submit(s.port, long_graph, "t");
  std::set<std::string> pending;
  for (int i = 0; i < 20; ++i) {
    json g = {{"1", {{"class_type", "KarrasScheduler"}, {"inputs", {{"steps", 3 + i}}}}},
              {"2", {{"class_type", "SaveSigmas"}, {"inputs", {{"sigmas", {"1", 0}}}}}}};
    pending.insert(submit(s.port, g, "t"));
  }
  for (auto m = ws.next(); m.first != "progress"; m = ws.next())
    if (m.first.empty()) return 1;
  auto t0 = clock_type::now();
  kill(s.pid, SIGTERM);
  int told = 0;
  bool running_told = false;
  for (auto m = ws.next(); !m.first.empty(); m = ws.next()) {
    if (m.first != "execution_interrupted") continue;
    if (m.second.value("prompt_id", "") == running) running_told = true;
    if (pending.count(m.second.value("prompt_id", ""))) ++told;
  }
  int status = 0;
  waitpid(s.pid, &status, 0);
  std::printf(
      "SIGTERM with a running prompt and 20 pending: exit %d after %.2f s; running prompt told: %s; pending "
      "prompts told: %d of 20\n",
      WIFEXITED(status) ? WEXITSTATUS(status) : -1, since(t0), running_told ? "yes" : "no", told);
  for (const char* suffix : {"", "-cache", "-input", "-models"}) fs::remove_all(s.out + suffix);
  return 0;
}

int bench_load() {
  Server s("safety-load");
  // ~100 MB of history: 100 prompts with ~1 MB extra_data each.
  const std::string filler(1000000 - 100, 'x');
  for (int i = 0; i < 100; ++i) {
    json g = {{"1", {{"class_type", "KarrasScheduler"}, {"inputs", {{"steps", 1000 + i}}}}},
              {"2", {{"class_type", "SaveSigmas"}, {"inputs", {{"sigmas", {"1", 0}}, {"filename_prefix", "h/h"}}}}}};
    submit(s.port, g, "fill", {{"notes", filler}});
  }
  for (;;) {
    auto q = json::parse(http(s.port, "GET", "/prompt"), nullptr, false);
    if (q.is_object() && q["exec_info"]["queue_remaining"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const size_t history_bytes = http(s.port, "GET", "/history").size();
  std::atomic<bool> done{false};
  std::atomic<int> fetches{0};
  std::thread reader([&] {
    while (!done) {
      http(s.port, "GET", "/history");
      ++fetches;
    }
  });
  std::mutex mu;
  std::vector<double> post_ms;
  std::set<std::string> ids;
  std::atomic<int> next{0};
  const int prompts = 500, clients = 4;
  auto t0 = clock_type::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&] {
      for (int i; (i = next++) < prompts;) {
        json g = {
            {"1", {{"class_type", "KarrasScheduler"}, {"inputs", {{"steps", 2 + i}}}}},
            {"2", {{"class_type", "SaveSigmas"}, {"inputs", {{"sigmas", {"1", 0}}, {"filename_prefix", "s/p"}}}}}};
        auto a = clock_type::now();
        std::string id = submit(s.port, g, "load");
        double ms = std::chrono::duration<double, std::milli>(clock_type::now() - a).count();
        std::lock_guard<std::mutex> lock(mu);
        post_ms.push_back(ms);
        if (!id.empty()) ids.insert(id);
      }
    });
  for (auto& t : threads) t.join();
  const double queued_s = since(t0);
  done = true;
  reader.join();
  for (;;) {
    auto q = json::parse(http(s.port, "GET", "/prompt"), nullptr, false);
    if (q.is_object() && q["exec_info"]["queue_remaining"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  int in_history = 0;
  for (const auto& id : ids) {
    auto h = json::parse(http(s.port, "GET", "/history/" + id), nullptr, false);
    in_history += h.is_object() && h.contains(id) && h[id]["status"]["status_str"] == "success";
  }
  std::printf(
      "load: %d prompts from %d clients in %.2f s while another client fetched the %.1f MB history %d times: "
      "accepted %zu, successful in history %d; POST /prompt p50 %.2f ms, p99 %.2f ms; server exit %d\n",
      prompts, clients, queued_s, static_cast<double>(history_bytes) / 1e6, fetches.load(), ids.size(), in_history,
      percentile(post_ms, 0.5), percentile(post_ms, 0.99), s.stop());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "all";
  const unsigned seed = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 1;
  signal(SIGPIPE, SIG_IGN);
  if (what == "interrupt" || what == "all") bench_interrupt(seed);
  if (what == "sigterm" || what == "all") bench_sigterm();
  if (what == "load" || what == "all") bench_load();
  return 0;
}
