// `sigmaflow serve` as a client sees it: ComfyUI's routes and shapes, the websocket event order,
// caching between prompts, interrupt, errors, SIGTERM with a queue, disconnecting clients, and 30+
// malformed requests (none may crash or hang the server). The server runs as a child process on a
// free loopback port.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A running server: started with extra arguments, stopped (SIGTERM) by the destructor.
class Server {
 public:
  explicit Server(std::vector<std::string> extra = {}) {
    out = (fs::temp_directory_path() / ("sigmaflow-serve-" + std::to_string(getpid()) + "-" + std::to_string(++count_)))
              .string();
    for (const char* suffix : {"", "-input", "-models"}) fs::remove_all(out + suffix);
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      close(fds[1]);
      setenv("SIGMAFLOW_CACHE_DIR", (out + "-cache").c_str(), 1);
      std::vector<std::string> args = {
          SF_SIGMAFLOW_EXE, "serve",        "--port",       "0", "--out", out, "--input-dir",
          out + "-input",   "--models-dir", out + "-models"};
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(SF_SIGMAFLOW_EXE, argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_fd_ = fds[0];
    std::string text;
    std::regex re("listening on http://127\\.0\\.0\\.1:(\\d+)");
    std::smatch m;
    for (int i = 0; i < 600 && !std::regex_search(text, m, re); ++i) {
      pollfd p{out_fd_, POLLIN, 0};
      if (poll(&p, 1, 100) > 0) {
        char buf[512];
        ssize_t n = read(out_fd_, buf, sizeof buf);
        if (n <= 0) break;
        text.append(buf, static_cast<size_t>(n));
      }
    }
    if (std::regex_search(text, m, re)) port = std::stoi(m[1]);
  }
  ~Server() {
    if (pid_ > 0 && !stopped_) stop();
    if (out_fd_ >= 0) close(out_fd_);
    for (const char* suffix : {"", "-cache", "-input", "-models"}) fs::remove_all(out + suffix);
  }
  // SIGTERM; returns the exit code (-1 if it had to be killed after `timeout_s`).
  int stop(int timeout_s = 60) {
    stopped_ = true;
    kill(pid_, SIGTERM);
    for (int i = 0; i < timeout_s * 10; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    return -1;
  }
  bool alive() const { return pid_ > 0 && kill(pid_, 0) == 0; }
  pid_t pid() const { return pid_; }

  int port = 0;
  std::string out;

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool stopped_ = false;
  static inline int count_ = 0;
};

// CPU time (user, clock ticks) process `pid` has used: progress a wait can be bounded by.
long cpu_ticks(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  if (text.rfind(')') == std::string::npos) return 0;
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string f;
  long ticks = 0;
  for (int i = 3; i <= 14 && fields >> f; ++i)
    if (i == 14) ticks = std::stol(f);  // utime
  return ticks;
}

// Sends raw bytes, returns everything the server answers until it closes, or until `timeout_ms`
// pass without an answer. With `working_pid`, the wait goes on while that process keeps using CPU
// (a server validating a large prompt on a busy machine is progress, not a hang).
std::string raw(int port, const std::string& bytes, int timeout_ms = 5000, bool half_close = true,
                pid_t working_pid = 0) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(s);
    return "connect failed";
  }
  for (size_t sent = 0; sent < bytes.size();) {
    ssize_t n = send(s, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  if (half_close) shutdown(s, SHUT_WR);
  std::string out;
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  long ticks = working_pid > 0 ? cpu_ticks(working_pid) : 0;
  for (;;) {
    if (std::chrono::steady_clock::now() >= end) {
      if (working_pid <= 0 || cpu_ticks(working_pid) == ticks) break;
      ticks = cpu_ticks(working_pid);
      end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    }
    pollfd p{s, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[65536];
    ssize_t n = recv(s, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(s);
  return out;
}

struct Reply {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

Reply request(int port, const std::string& method, const std::string& target, const std::string& body = "",
              const std::string& headers = "Host: 127.0.0.1\r\n", const std::string& content_type = "application/json",
              pid_t working_pid = 0) {
  std::string req = method + " " + target + " HTTP/1.1\r\n" + headers + "Connection: close\r\n";
  if (!body.empty() || method == "POST")
    req += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  std::string text = raw(port, req + "\r\n" + body, 30000, true, working_pid);
  Reply r;
  if (text.rfind("HTTP/1.1 ", 0) == 0) r.status = std::stoi(text.substr(9, 3));
  size_t at = text.find("\r\n\r\n");
  if (at != std::string::npos) {
    r.head = text.substr(0, at);
    r.body = text.substr(at + 4);
  }
  return r;
}

json get_json(int port, const std::string& target) { return json::parse(request(port, "GET", target).body); }

std::string submit(int port, const json& graph, const std::string& client = "test") {
  Reply r = request(port, "POST", "/prompt", json{{"prompt", graph}, {"client_id", client}}.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  return r.status == 200 ? json::parse(r.body).value("prompt_id", "") : "";
}

// A websocket client that collects ComfyUI's event messages.
class Ws {
 public:
  // `target`: the path and query of the upgrade request.
  Ws(int port, const std::string& client, const std::string& target = "") : ws_(ioc_) {
    boost::asio::ip::tcp::resolver resolver(ioc_);
    auto results = resolver.resolve("127.0.0.1", std::to_string(port));
    boost::beast::get_lowest_layer(ws_).connect(results);
    ws_.handshake("127.0.0.1", target.empty() ? "/ws?clientId=" + client : target);
  }
  // The next message (type, data), or type "" after `timeout_ms`.
  std::pair<std::string, json> next(int timeout_ms = 60000) {
    boost::beast::get_lowest_layer(ws_).expires_after(std::chrono::milliseconds(timeout_ms));
    boost::beast::flat_buffer buf;
    boost::beast::error_code ec;
    ws_.read(buf, ec);
    if (ec) return {"", json()};
    json j = json::parse(boost::beast::buffers_to_string(buf.data()));
    return {j.value("type", ""), j["data"]};
  }
  // Messages until one of type `until` for this prompt (inclusive), as a list of types.
  std::vector<std::pair<std::string, json>> until(const std::string& until, const std::string& prompt_id) {
    std::vector<std::pair<std::string, json>> seen;
    for (;;) {
      auto m = next();
      if (m.first.empty()) break;
      seen.push_back(m);
      if (m.first == until && m.second.value("prompt_id", "") == prompt_id) break;
    }
    return seen;
  }
  void drop() { boost::beast::get_lowest_layer(ws_).socket().close(); }
  bool send(const std::string& text) {
    boost::beast::error_code ec;
    ws_.text(true);
    ws_.write(boost::asio::buffer(text), ec);
    return !ec;
  }

 private:
  boost::asio::io_context ioc_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
};

json small_graph(int steps = 3) {
  return json::parse(R"({"1": {"class_type": "KarrasScheduler", "inputs": {"steps": )" + std::to_string(steps) +
                     R"(, "sigma_min": 0.002, "sigma_max": 80}},
      "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": "s/sig"}}})");
}

json sampling_graph(int steps, int batch) {
  return json::parse(R"({"m": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8"}},
      "l": {"class_type": "EmptyLatent", "inputs": {"model": ["m", 0], "batch_size": )" +
                     std::to_string(batch) + R"(}},
      "k": {"class_type": "KSampler", "inputs": {"model": ["m", 0], "latent_image": ["l", 0], "steps": )" +
                     std::to_string(steps) + R"(, "sampler_name": "heun", "scheduler": "karras", "seed": 1}},
      "o": {"class_type": "SaveLatent", "inputs": {"samples": ["k", 0], "filename_prefix": "lat/x"}}})");
}

std::vector<std::string> types_of(const std::vector<std::pair<std::string, json>>& msgs) {
  std::vector<std::string> t;
  for (const auto& m : msgs) t.push_back(m.first);
  return t;
}

TEST(Serve, RoutesHaveComfyUisShapes) {
  Server s;
  ASSERT_GT(s.port, 0);
  EXPECT_TRUE(get_json(s.port, "/object_info").contains("KSampler"));
  EXPECT_TRUE(get_json(s.port, "/object_info/KSampler")["KSampler"]["input"]["required"].contains("cfg"));
  EXPECT_TRUE(get_json(s.port, "/api/object_info/KSampler").contains("KSampler"));
  EXPECT_EQ(get_json(s.port, "/object_info/NoSuchNode"), json::object());
  auto stats = get_json(s.port, "/system_stats");
  EXPECT_TRUE(stats["system"].contains("ram_total"));
  EXPECT_EQ(stats["devices"][0]["type"], "cpu");
  EXPECT_EQ(get_json(s.port, "/embeddings"), json::array());
  EXPECT_EQ(get_json(s.port, "/extensions"), json::array());
  EXPECT_EQ(get_json(s.port, "/prompt")["exec_info"]["queue_remaining"], 0);
  auto q = get_json(s.port, "/queue");
  EXPECT_EQ(q["queue_running"], json::array());
  EXPECT_EQ(q["queue_pending"], json::array());
  EXPECT_EQ(s.stop(), 0);
}

TEST(Serve, EventsHistoryAndViewForOnePrompt) {
  Server s;
  Ws ws(s.port, "c1");
  EXPECT_EQ(ws.next().first, "status");
  std::string id = submit(s.port, small_graph(), "c1");
  auto msgs = ws.until("execution_success", id);
  // ComfyUI ends with executing {node: null}; a status message (queue length) may come in between,
  // as it is broadcast from the request thread.
  for (auto m = ws.next();; m = ws.next()) {
    msgs.push_back(m);
    if (m.first != "status") break;
  }
  std::vector<std::string> exec;
  for (const auto& t : types_of(msgs))
    if (t != "status" && t != "progress") exec.push_back(t);
  EXPECT_EQ(exec, (std::vector<std::string>{"execution_start", "execution_cached", "executing", "executing", "executed",
                                            "execution_success", "executing"}));
  EXPECT_TRUE(msgs.back().second["node"].is_null()) << msgs.back().second.dump();
  json h = get_json(s.port, "/history/" + id);
  ASSERT_TRUE(h.contains(id)) << h.dump();
  EXPECT_EQ(h[id]["status"]["status_str"], "success");
  const json& files = h[id]["outputs"]["2"]["files"];
  ASSERT_FALSE(files.empty()) << h.dump();
  std::string name = files[0]["filename"], sub = files[0]["subfolder"];
  Reply v = request(s.port, "GET", "/view?filename=" + name + "&subfolder=" + sub + "&type=output");
  EXPECT_EQ(v.status, 200);
  std::ifstream f(fs::path(s.out) / sub / name);
  std::string disk((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(v.body, disk);
  EXPECT_EQ(s.stop(), 0);
}

TEST(Serve, ARequeueWithOneChangedLiteralRerunsOnlyDownstream) {
  Server s;
  Ws ws(s.port, "c");
  auto cached_of = [&](const std::string& id) {
    for (const auto& m : ws.until("execution_success", id))
      if (m.first == "execution_cached") return m.second["nodes"].get<std::vector<std::string>>();
    return std::vector<std::string>{"(none)"};
  };
  std::string a = submit(s.port, sampling_graph(4, 16), "c");
  EXPECT_TRUE(cached_of(a).empty());
  std::string b = submit(s.port, sampling_graph(4, 16), "c");
  auto all = cached_of(b);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<std::string>{"k", "l", "m", "o"}));
  std::string c = submit(s.port, sampling_graph(5, 16), "c");  // KSampler steps changed
  auto some = cached_of(c);
  std::sort(some.begin(), some.end());
  EXPECT_EQ(some, (std::vector<std::string>{"l", "m"}));
  EXPECT_EQ(s.stop(), 0);
}

TEST(Serve, InterruptStopsTheSamplerAndTheNextPromptRuns) {
  Server s;
  Ws ws(s.port, "i");
  std::string longer = submit(s.port, sampling_graph(10000, 20000), "i");
  std::string next = submit(s.port, small_graph(), "i");
  for (;;) {
    auto m = ws.next();
    ASSERT_FALSE(m.first.empty());
    if (m.first == "progress") break;  // the sampler is running
  }
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(request(s.port, "POST", "/interrupt").status, 200);
  auto msgs = ws.until("execution_interrupted", longer);
  EXPECT_EQ(msgs.back().first, "execution_interrupted");
  EXPECT_EQ(msgs.back().second["node_id"], "k");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10);
  auto after = ws.until("execution_success", next);
  EXPECT_EQ(after.back().first, "execution_success");
  EXPECT_EQ(get_json(s.port, "/history/" + longer)[longer]["status"]["status_str"], "error");
  EXPECT_EQ(s.stop(), 0);
}

TEST(Serve, ANodeErrorIsReportedAndTheServerGoesOn) {
  Server s;
  Ws ws(s.port, "e");
  json bad = json::parse(R"({"1": {"class_type": "LoadSigmas", "inputs": {"path": "nonexistent/s.json"}},
      "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": "x"}}})");
  std::string id = submit(s.port, bad, "e");
  auto msgs = ws.until("execution_error", id);
  ASSERT_EQ(msgs.back().first, "execution_error");
  EXPECT_EQ(msgs.back().second["node_id"], "1");
  EXPECT_EQ(msgs.back().second["node_type"], "LoadSigmas");
  EXPECT_NE(msgs.back().second["exception_message"].get<std::string>().find("does not exist"), std::string::npos);
  std::string ok = submit(s.port, small_graph(), "e");
  EXPECT_EQ(ws.until("execution_success", ok).back().first, "execution_success");
  EXPECT_EQ(s.stop(), 0);
}

TEST(Serve, ClientsDisconnectingMidRunDoNotDisturbIt) {
  Server s;
  {
    Ws gone(s.port, "gone");
    submit(s.port, sampling_graph(200, 2000), "gone");
    gone.next();
    gone.drop();
  }
  Ws stay(s.port, "stay");
  std::string id = submit(s.port, small_graph(7), "stay");
  EXPECT_EQ(stay.until("execution_success", id).back().first, "execution_success");
  EXPECT_TRUE(s.alive());
  EXPECT_EQ(s.stop(), 0);
}

TEST(Serve, SigtermWithAQueueInterruptsRemovesTemporaryFilesAndExits0) {
  Server s;
  Ws ws(s.port, "t");
  submit(s.port, sampling_graph(10000, 20000), "t");
  for (int i = 0; i < 3; ++i) submit(s.port, small_graph(3 + i), "t");
  for (;;) {
    auto m = ws.next();
    ASSERT_FALSE(m.first.empty());
    if (m.first == "progress") break;
  }
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(s.stop(30), 0);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 15);
  if (fs::exists(s.out)) {
    for (auto& f : fs::recursive_directory_iterator(s.out))
      EXPECT_EQ(f.path().filename().string().find(".tmp"), std::string::npos) << f.path();
  }
}

TEST(Serve, TheQueueIsBounded) {
  Server s({"--max-queue", "2"});
  submit(s.port, sampling_graph(10000, 20000), "q");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the first one is running
  int refused = 0;
  for (int i = 0; i < 4; ++i) {
    Reply r = request(s.port, "POST", "/prompt", json{{"prompt", small_graph(3 + i)}}.dump());
    if (r.status == 503) ++refused;
  }
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(request(s.port, "POST", "/queue", R"({"clear": true})").status, 200);
  EXPECT_EQ(get_json(s.port, "/queue")["queue_pending"].size(), 0u);
  request(s.port, "POST", "/interrupt");
  EXPECT_EQ(s.stop(), 0);
}

// 30+ malformed or hostile requests: each gets an HTTP error or a closed connection, never a
// crash or a hang, and the server answers normally afterwards.
TEST(Serve, MalformedRequestsGetErrorsNotCrashes) {
  Server s({"--max-body-mb", "1", "--idle-timeout", "2", "--max-connections", "64"});
  ASSERT_GT(s.port, 0);
  fs::create_directories(fs::path(s.out) / "sub");
  std::ofstream(fs::path(s.out) / "sub" / "ok.txt") << "ok";
  std::ofstream(fs::path(s.out) / ".hidden") << "x";
  fs::create_symlink("/etc/passwd", fs::path(s.out) / "link.txt");
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  struct Case {
    std::string name, method, target, body;
    int want;
  };
  std::vector<Case> cases = {
      {"invalid JSON", "POST", "/prompt", "{not json", 400},
      {"JSON array", "POST", "/prompt", "[1, 2]", 400},
      {"no prompt", "POST", "/prompt", R"({"client_id": "x"})", 400},
      {"prompt is a string", "POST", "/prompt", R"({"prompt": "x"})", 400},
      {"deep nesting", "POST", "/prompt", R"({"prompt": )" + deep + "}", 400},
      {"deep nesting in a literal", "POST", "/prompt",
       R"({"prompt": {"1": {"class_type": "KarrasScheduler", "inputs": {"steps": )" + deep + "}}}}", 400},
      {"invalid UTF-8", "POST", "/prompt", "{\"prompt\": {\"1\": {\"class_type\": \"\xff\xfe\", \"inputs\": {}}}}",
       400},
      {"unknown class", "POST", "/prompt", R"({"prompt": {"1": {"class_type": "Nope", "inputs": {}}}})", 400},
      {"number overflow", "POST", "/prompt",
       R"({"prompt": {"1": {"class_type": "KarrasScheduler", "inputs": {"steps": 1e999}}}})", 400},
      {"empty body", "POST", "/prompt", "", 400},
      {"queue: bad JSON", "POST", "/queue", "{", 400},
      {"queue: delete not a list", "POST", "/queue", R"({"delete": "x"})", 400},
      {"history: bad JSON", "POST", "/history", "]", 400},
      {"history: long id", "GET", "/history/" + std::string(5000, 'a'), "", 200},
      {"history: bad max_items", "GET", "/history?max_items=abc", "", 200},
      {"view: no filename", "GET", "/view", "", 403},
      {"view: .. in filename", "GET", "/view?filename=../../etc/passwd", "", 403},
      {"view: .. in subfolder", "GET", "/view?filename=passwd&subfolder=../../../etc", "", 403},
      {"view: absolute subfolder", "GET", "/view?filename=passwd&subfolder=/etc", "", 403},
      {"view: encoded slash", "GET", "/view?filename=..%2F..%2Fetc%2Fpasswd", "", 403},
      {"view: NUL", "GET", "/view?filename=ok.txt%00.png&subfolder=sub", "", 403},
      {"view: hidden file", "GET", "/view?filename=.hidden", "", 403},
      {"view: symlink out", "GET", "/view?filename=link.txt", "", 403},
      {"view: input type, no such file", "GET", "/view?filename=ok.txt&subfolder=sub&type=input", "", 404},
      {"view: unknown type", "GET", "/view?filename=ok.txt&subfolder=sub&type=elsewhere", "", 400},
      {"view: missing", "GET", "/view?filename=none.png", "", 404},
      {"view: ok", "GET", "/view?filename=ok.txt&subfolder=sub", "", 200},
      {"unknown route", "GET", "/nope", "", 404},
      {"wrong method", "DELETE", "/prompt", "", 405},
      {"unknown method", "BREW", "/prompt", "", 405},
      {"GET interrupt", "GET", "/interrupt", "", 405},
  };
  for (const auto& c : cases) {
    Reply r = request(s.port, c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.want) << c.name << ": " << r.body.substr(0, 300);
  }
  // Raw protocol abuse.
  auto status_of = [](const std::string& t) { return t.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(t.substr(9, 3)) : 0; };
  EXPECT_EQ(status_of(raw(s.port, "GARBAGE\r\n\r\n")), 400);
  EXPECT_EQ(status_of(raw(s.port, "GET /prompt\r\n\r\n")), 400);
  EXPECT_EQ(status_of(raw(s.port, "GET /prompt HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n")), 400);
  std::string big(2 << 20, 'x');
  EXPECT_EQ(status_of(raw(s.port,
                          "POST /prompt HTTP/1.1\r\nContent-Length: " + std::to_string(big.size()) + "\r\n\r\n" + big)),
            413);
  EXPECT_EQ(status_of(raw(s.port, "POST /prompt HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n")),
            400);
  EXPECT_EQ(
      status_of(raw(s.port,
                    "GET /notws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: "
                    "websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")),
      404);
  // A body shorter than its Content-Length, and a slowloris header: the server times out (2 s).
  auto t0 = std::chrono::steady_clock::now();
  raw(s.port, "POST /prompt HTTP/1.1\r\nContent-Length: 100\r\n\r\n{", 8000, false);
  raw(s.port, "GET /prompt HTTP/1.1\r\nX-Slow: ", 8000, false);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 12);
  // A websocket message over the limit (64 kB) closes that connection only.
  {
    Ws ws(s.port, "big");
    EXPECT_EQ(ws.next().first, "status");
    ws.send(std::string(200000, 'x'));
    EXPECT_EQ(ws.next(3000).first, "");  // closed
  }
  // More connections than allowed: the extra ones are closed, the server survives.
  std::vector<int> socks;
  for (int i = 0; i < 100; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(s.port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socks.push_back(fd);
  }
  for (int fd : socks) close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(s.alive());
  EXPECT_EQ(request(s.port, "GET", "/prompt").status, 200);
  EXPECT_EQ(s.stop(), 0);
}

// ---- hostile and careless requests (issue: the server is safe to leave running) ---------------

// A multipart/form-data upload as ComfyUI's frontend sends it.
Reply upload(int port, const std::string& route, const std::string& filename, const std::string& content,
             const std::vector<std::pair<std::string, std::string>>& fields = {}) {
  const std::string b = "----sigmaflowtestboundary";
  std::string body = "--" + b + "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"" + filename +
                     "\"\r\nContent-Type: application/octet-stream\r\n\r\n" + content + "\r\n";
  for (const auto& [k, v] : fields)
    body += "--" + b + "\r\nContent-Disposition: form-data; name=\"" + k + "\"\r\n\r\n" + v + "\r\n";
  body += "--" + b + "--\r\n";
  return request(port, "POST", route, body, "Host: 127.0.0.1\r\n", "multipart/form-data; boundary=" + b);
}

json load_sigmas_graph(const std::string& path) {
  return json{{"1", {{"class_type", "LoadSigmas"}, {"inputs", {{"path", path}}}}},
              {"2", {{"class_type", "SaveSigmas"}, {"inputs", {{"sigmas", {"1", 0}}, {"filename_prefix", "x"}}}}}};
}

// The terminal event of prompt `id` (execution_success / _error / _interrupted) and its data,
// after the closing `executing {node: null}` (from then on the history has the prompt, as in
// ComfyUI).
std::pair<std::string, json> outcome(Ws& ws, const std::string& id) {
  std::pair<std::string, json> end;
  for (;;) {
    auto m = ws.next();
    if (m.first.empty()) return m;
    if (m.second.value("prompt_id", "") != id) continue;
    if (m.first == "execution_success" || m.first == "execution_error" || m.first == "execution_interrupted") end = m;
    if (m.first == "executing" && m.second["node"].is_null()) return end;
  }
}

TEST(Serve, FieldsOfTheWrongTypeAre400sNamingTheFieldAndTheServerLives) {
  Server s;
  ASSERT_GT(s.port, 0);
  struct Case {
    std::string target, body;
    int want;
    std::string field;  // named in the error ("" : success)
  };
  const std::string g = small_graph().dump();
  std::vector<Case> cases = {
      {"/queue", R"({"clear": "yes"})", 400, "clear"},
      {"/queue", R"({"clear": 1})", 200, ""},  // ComfyUI reads flags by truthiness
      {"/queue", R"({"delete": [1]})", 400, "delete[0]"},
      {"/queue", R"({"delete": {"a": 1}})", 400, "delete"},
      {"/history", R"({"clear": 1})", 200, ""},
      {"/history", R"({"clear": [true]})", 400, "clear"},
      {"/history", R"({"delete": "abc"})", 400, "delete"},
      {"/prompt", R"({"prompt": )" + g + R"(, "client_id": null})", 200, ""},  // some Python clients send null
      {"/prompt", R"({"prompt": )" + g + R"(, "client_id": 5})", 400, "client_id"},
      {"/prompt", R"({"prompt": )" + g + R"(, "front": "true"})", 400, "front"},
      {"/prompt", R"({"prompt": )" + g + R"(, "front": 1})", 200, ""},
      {"/prompt", R"({"prompt": )" + g + R"(, "extra_data": [1]})", 400, "extra_data"},
      {"/prompt", R"({"prompt": )" + g + R"(, "number": "3"})", 400, "number"},
      {"/prompt", R"({"prompt": )" + g + R"(, "prompt_id": {"x": 1}})", 400, "prompt_id"},
      {"/prompt", R"({"prompt": [1, 2]})", 400, "prompt"},
      {"/interrupt", R"({"prompt_id": 7})", 400, "prompt_id"},
      {"/interrupt", R"([1])", 400, ""},
  };
  for (const auto& c : cases) {
    Reply r = request(s.port, "POST", c.target, c.body);
    EXPECT_EQ(r.status, c.want) << c.target << " " << c.body.substr(0, 120) << ": " << r.body.substr(0, 300);
    if (!c.field.empty()) {
      EXPECT_NE(r.body.find("'" + c.field + "'"), std::string::npos) << c.body.substr(0, 120) << ": " << r.body;
    }
    ASSERT_TRUE(s.alive()) << c.target << " " << c.body.substr(0, 120);
  }
  EXPECT_EQ(request(s.port, "GET", "/prompt").status, 200);
  EXPECT_EQ(s.stop(), 0);
}

TEST(Serve, FileInputsResolveOnlyInsideTheInputAndModelsFolders) {
  Server s;
  Ws ws(s.port, "f");
  const fs::path input = s.out + "-input", models = s.out + "-models";
  fs::create_directories(input / "sub");
  fs::create_directories(models);
  std::ofstream(models / "m.csv") << "sigma\n10\n1\n0\n";
  fs::create_symlink("/etc", input / "etc_link");
  fs::create_symlink("/etc/hostname", input / "host_link.csv");
  const std::string secret_dir = s.out + "-secret";
  fs::create_directories(secret_dir);
  std::ofstream(fs::path(secret_dir) / "secret.csv") << "sigma\ntopsecret-line\n";
  auto run = [&](const std::string& path) {
    std::string id = submit(s.port, load_sigmas_graph(path), "f");
    return outcome(ws, id);
  };
  // Outside: absolute paths, '..', links that leave, /proc: errors that name no content and do not
  // say whether the file exists.
  for (const std::string& bad :
       std::vector<std::string>{"/etc/passwd", "/proc/self/environ", secret_dir + "/secret.csv",
                                "../" + fs::path(secret_dir).filename().string() + "/secret.csv",
                                "sub/../../etc/passwd", "etc_link/passwd", "host_link.csv"}) {
    auto [type, data] = run(bad);
    ASSERT_EQ(type, "execution_error") << bad;
    const std::string msg = data.value("exception_message", "");
    EXPECT_EQ(data["node_id"], "1") << msg;
    EXPECT_EQ(msg.find("topsecret"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("root:"), std::string::npos) << msg;
    EXPECT_EQ(msg.find(fs::current_path().string() + " "), std::string::npos) << msg;  // no working directory
    EXPECT_EQ(msg.find("does not exist"), std::string::npos) << bad << ": " << msg;    // no existence oracle
    EXPECT_NE(msg.find("'path'"), std::string::npos) << msg;
  }
  auto [missing_type, missing] = run("none.csv");
  EXPECT_EQ(missing_type, "execution_error");
  EXPECT_NE(missing.value("exception_message", "").find("does not exist in"), std::string::npos);
  // Inside: the models folder, and a file uploaded through /upload/image (ComfyUI's form).
  EXPECT_EQ(run("m.csv").first, "execution_success");
  Reply up = upload(s.port, "/upload/image", "my sigmas.csv", "sigma\n5\n0.5\n0\n", {{"subfolder", "sub"}});
  ASSERT_EQ(up.status, 200) << up.body;
  EXPECT_EQ(json::parse(up.body), (json{{"name", "my sigmas.csv"}, {"subfolder", "sub"}, {"type", "input"}}));
  EXPECT_EQ(run("sub/my sigmas.csv").first, "execution_success");
  // A second upload of the same name is renamed unless overwrite is set; both are readable through /view.
  Reply again = upload(s.port, "/upload/image", "my sigmas.csv", "sigma\n7\n0\n", {{"subfolder", "sub"}});
  EXPECT_EQ(json::parse(again.body)["name"], "my sigmas (1).csv");
  Reply over =
      upload(s.port, "/upload/image", "my sigmas.csv", "sigma\n9\n0\n", {{"subfolder", "sub"}, {"overwrite", "true"}});
  EXPECT_EQ(json::parse(over.body)["name"], "my sigmas.csv");
  EXPECT_EQ(request(s.port, "GET", "/view?filename=my%20sigmas.csv&subfolder=sub&type=input").body, "sigma\n9\n0\n");
  EXPECT_EQ(request(s.port, "GET", "/view?filename=passwd&subfolder=etc_link&type=input").status, 403);
  // Uploads that try to leave the folder.
  EXPECT_EQ(upload(s.port, "/upload/image", "../x.png", "x").status, 200);  // the name's folder part is dropped
  EXPECT_FALSE(fs::exists(fs::path(s.out) / "x.png"));
  EXPECT_EQ(upload(s.port, "/upload/image", "y.png", "x", {{"subfolder", "../.."}}).status, 400);
  EXPECT_EQ(upload(s.port, "/upload/image", "y.png", "x", {{"subfolder", "etc_link"}}).status, 403);
  EXPECT_EQ(upload(s.port, "/upload/image", ".hidden", "x").status, 400);
  EXPECT_EQ(upload(s.port, "/upload/image", "y.png", "x", {{"type", "elsewhere"}}).status, 400);
  EXPECT_EQ(request(s.port, "POST", "/upload/image", "not a form").status, 400);
  Reply mask = upload(s.port, "/upload/mask", "mask.png", "m",
                      {{"original_ref", R"({"filename": "my sigmas.csv", "subfolder": "sub", "type": "input"})"}});
  EXPECT_EQ(mask.status, 200) << mask.body;
  EXPECT_EQ(upload(s.port, "/upload/mask", "mask.png", "m", {{"original_ref", "{"}}).status, 400);
  fs::remove_all(secret_dir);
  EXPECT_EQ(s.stop(), 0);
}

TEST(Serve, RequestsFromOtherSitesAndUnknownHostsAreRefused) {
  Server s({"--allow-host", "sigmaflow.lan"});
  const std::string here = "127.0.0.1:" + std::to_string(s.port);
  const std::string g = json{{"prompt", small_graph()}}.dump();
  auto post = [&](const std::string& headers) { return request(s.port, "POST", "/prompt", g, headers).status; };
  // A page on another origin (a simple text/plain POST needs no preflight in a browser).
  EXPECT_EQ(request(s.port, "POST", "/prompt", g, "Host: " + here + "\r\nOrigin: http://evil.example\r\n", "text/plain")
                .status,
            403);
  EXPECT_EQ(post("Host: " + here + "\r\nOrigin: http://127.0.0.1:1\r\n"), 403);   // another port
  EXPECT_EQ(post("Host: " + here + "\r\nOrigin: null\r\n"), 403);                 // a file:// or sandboxed page
  EXPECT_EQ(post("Host: evil.example:" + std::to_string(s.port) + "\r\n"), 403);  // DNS rebinding
  EXPECT_EQ(request(s.port, "GET", "/history", "", "Host: evil.example\r\n").status, 403);
  // The server's own pages and plain clients.
  EXPECT_EQ(post("Host: " + here + "\r\nOrigin: http://" + here + "\r\n"), 200);
  EXPECT_EQ(post("Host: localhost:" + std::to_string(s.port) +
                 "\r\nOrigin: http://localhost:" + std::to_string(s.port) + "\r\n"),
            200);
  EXPECT_EQ(post("Host: sigmaflow.lan:" + std::to_string(s.port) + "\r\n"), 200);  // --allow-host
  EXPECT_EQ(post("Host: " + here + "\r\n"), 200);
  // A websocket opened by another site's page.
  const std::string upgrade =
      "GET /ws?clientId=x HTTP/1.1\r\nHost: " + here +
      "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
      "dGhlIHNhbXBsZSBub25jZQ==\r\n";
  EXPECT_EQ(raw(s.port, upgrade + "Origin: http://evil.example\r\n\r\n").substr(0, 12), "HTTP/1.1 403");
  EXPECT_EQ(raw(s.port, upgrade + "Origin: http://" + here + "\r\n\r\n", 1000).substr(0, 12), "HTTP/1.1 101");
  EXPECT_TRUE(s.alive());
  EXPECT_EQ(s.stop(), 0);
  // --enable-cors-header trusts one front end.
  Server cors({"--enable-cors-header", "http://frontend.example:3000"});
  Reply r = request(cors.port, "POST", "/prompt", g,
                    "Host: 127.0.0.1:" + std::to_string(cors.port) + "\r\nOrigin: http://frontend.example:3000\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.head.find("Access-Control-Allow-Origin: http://frontend.example:3000"), std::string::npos) << r.head;
  EXPECT_EQ(cors.stop(), 0);
}

// A long node that reports no progress of its own (the sweep's reference solve) and a sampler
// stop when interrupted; an interrupt naming a pending prompt leaves the running one alone.
TEST(Serve, InterruptReachesNodesWithoutProgressAndHonoursPromptId) {
  Server s;
  Ws ws(s.port, "p");
  json sweep = json::parse(R"({"m": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8"}},
      "s": {"class_type": "ScheduleSweep", "inputs": {"model": ["m", 0], "schedulers": "karras", "samplers": "euler",
            "steps_list": "5", "batch": 20000, "reference_steps": 100000}},
      "r": {"class_type": "CompareReport", "inputs": {"report": ["s", 0], "filename_prefix": "sweep/r"}}})");
  std::string a = submit(s.port, sweep, "p");
  std::string b = submit(s.port, sampling_graph(10000, 20000), "p");
  for (;;) {  // the sweep node has started
    auto m = ws.next();
    ASSERT_FALSE(m.first.empty());
    if (m.first == "executing" && m.second["node"] == "s") break;
  }
  EXPECT_EQ(request(s.port, "POST", "/interrupt", json{{"prompt_id", b}}.dump()).status, 200);  // b is pending
  EXPECT_EQ(get_json(s.port, "/queue")["queue_running"][0][1], a);
  EXPECT_EQ(request(s.port, "POST", "/interrupt", json{{"prompt_id", a}}.dump()).status, 200);
  auto [type, data] = outcome(ws, a);
  EXPECT_EQ(type, "execution_interrupted");
  EXPECT_EQ(data["node_id"], "s");
  for (;;) {  // b runs next, and was not interrupted by the first request
    auto m = ws.next();
    ASSERT_FALSE(m.first.empty());
    if (m.first == "progress" && m.second["prompt_id"] == b) break;
    ASSERT_NE(m.first, "execution_interrupted") << m.second.dump();
  }
  EXPECT_EQ(request(s.port, "POST", "/interrupt", "").status, 200);
  EXPECT_EQ(outcome(ws, b).first, "execution_interrupted");
  EXPECT_EQ(s.stop(), 0);
}

TEST(Serve, ANodeThatCrashesEndsItsPromptAndTheServerGoesOn) {
  Server s({"--plugins", std::string(SF_FIXTURE_DIR) + "/misbehaving"});
  Ws ws(s.port, "c");
  json crash = json::parse(R"({"1": {"class_type": "KarrasScheduler", "inputs": {"steps": 3}},
      "2": {"class_type": "SegfaultInExecute", "inputs": {"value": ["1", 0]}}})");
  std::string a = submit(s.port, crash, "c");
  auto [type, data] = outcome(ws, a);
  ASSERT_EQ(type, "execution_error") << data.dump();
  EXPECT_EQ(data["node_id"], "2");
  EXPECT_EQ(data["node_type"], "SegfaultInExecute");
  EXPECT_NE(data.value("exception_message", "").find("ended the executor process"), std::string::npos) << data.dump();
  EXPECT_TRUE(s.alive());
  EXPECT_EQ(get_json(s.port, "/history/" + a)[a]["status"]["status_str"], "error");
  // The next prompt runs in a new executor process.
  std::string b = submit(s.port, small_graph(), "c");
  EXPECT_EQ(outcome(ws, b).first, "execution_success");
  // An idle executor process killed from outside (the OOM killer) is replaced before the next
  // prompt is handed over: that prompt succeeds.
  pid_t worker = 0;  // the server's only child (started by its executor thread)
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(s.pid()) + "/task")) {
    std::ifstream children(task.path() / "children");
    if (children >> worker) break;
  }
  ASSERT_GT(worker, 0);
  ASSERT_EQ(kill(worker, SIGKILL), 0);
  // Until it is dead: a zombie with no thread left (the leader shows Z while other threads are
  // still exiting; the server reaps it only when it next needs it).
  for (bool dead = false; !dead;) {
    const std::string proc = "/proc/" + std::to_string(worker);
    std::ifstream stat(proc + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::error_code ec;
    size_t threads = 0;
    for (fs::directory_iterator t(proc + "/task", ec), end; !ec && t != end; t.increment(ec)) ++threads;
    dead = text.find(") Z") != std::string::npos && threads <= 1;
    if (!dead) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::string c = submit(s.port, small_graph(4), "c");
  auto after_kill = outcome(ws, c);
  EXPECT_EQ(after_kill.first, "execution_success") << after_kill.second.dump();
  EXPECT_EQ(s.stop(), 0);
}

TEST(Serve, SigtermTellsEveryClientAndExits) {
  Server s;
  Ws ws(s.port, "t");
  std::string running = submit(s.port, sampling_graph(10000, 20000), "t");
  std::set<std::string> pending;
  for (int i = 0; i < 20; ++i) pending.insert(submit(s.port, small_graph(3 + i), "t"));
  for (;;) {
    auto m = ws.next();
    ASSERT_FALSE(m.first.empty());
    if (m.first == "progress") break;
  }
  std::thread stopper([&] { EXPECT_EQ(s.stop(60), 0); });
  std::set<std::string> told;
  bool running_told = false;
  int last_queue = -1;
  for (auto m = ws.next(); !m.first.empty(); m = ws.next()) {
    if (m.first == "execution_interrupted") {
      if (m.second["prompt_id"] == running) running_told = true;
      if (pending.count(m.second["prompt_id"])) told.insert(m.second["prompt_id"].get<std::string>());
    }
    if (m.first == "status") last_queue = m.second["status"]["exec_info"]["queue_remaining"];
  }
  stopper.join();
  EXPECT_TRUE(running_told);
  EXPECT_EQ(told, pending);
  EXPECT_LE(last_queue, 1);
  if (fs::exists(s.out)) {
    for (auto& f : fs::recursive_directory_iterator(s.out))
      EXPECT_EQ(f.path().filename().string().find(".tmp"), std::string::npos) << f.path();
  }
}

// The network thread only parses and routes: while a large prompt is validated on a worker, another
// client is answered (ordering, not wall time: the small request's answer comes first).
TEST(Serve, ALargePromptBeingValidatedDoesNotHoldUpOtherClients) {
  Server s;
  json big = json::object();
  for (int i = 0; i < 40000; ++i) {  // every pair invalid (steps 0): a 400 after validating all of them
    const std::string k = std::to_string(i);
    big["k" + k] = {{"class_type", "KarrasScheduler"}, {"inputs", {{"steps", 0}}}};
    big["s" + k] = {{"class_type", "SaveSigmas"}, {"inputs", {{"sigmas", {"k" + k, 0}}, {"filename_prefix", "x"}}}};
  }
  const std::string body = json{{"prompt", big}}.dump();
  std::atomic<int> order{0};
  int big_done = 0, small_done = 0;
  std::thread poster([&] {
    Reply r = request(s.port, "POST", "/prompt", body, "Host: 127.0.0.1\r\n", "application/json", s.pid());
    EXPECT_EQ(r.status, 400);
    big_done = ++order;
  });
  // Wait until the server is busy with the big prompt: its validation shows as CPU time in the
  // server process, which is progress, not a guess at wall time.
  auto busy = [&] { return cpu_ticks(s.pid()); };
  const long start = busy();
  while (busy() < start + 20 && big_done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(request(s.port, "GET", "/system_stats").status, 200);
  small_done = ++order;
  poster.join();
  EXPECT_LT(small_done, big_done) << "the small request waited for the large one";
  EXPECT_EQ(s.stop(), 0);
}

// Memory budgets: one prompt's extra_data, and the pending prompts' bytes (--max-queue-mb).
TEST(Serve, MemoryBudgetsRefuseWithClearErrors) {
  Server s({"--max-queue-mb", "1"});
  Ws ws(s.port, "m");
  std::string blocker = submit(s.port, sampling_graph(10000, 20000), "m");
  for (auto m = ws.next(); !(m.first == "progress" && m.second["prompt_id"] == blocker); m = ws.next())
    ASSERT_FALSE(m.first.empty());
  const std::string big(1100000, 'x');
  Reply r =
      request(s.port, "POST", "/prompt", json{{"prompt", small_graph()}, {"extra_data", {{"notes", big}}}}.dump());
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("extra_data"), std::string::npos) << r.body;
  const std::string part(300000, 'y');
  std::vector<int> statuses;
  for (int i = 0; i < 4; ++i)
    statuses.push_back(request(s.port, "POST", "/prompt",
                               json{{"prompt", small_graph(3 + i)}, {"extra_data", {{"notes", part}}}}.dump())
                           .status);
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 200, 503}));
  Reply full =
      request(s.port, "POST", "/prompt", json{{"prompt", small_graph(9)}, {"extra_data", {{"n", part}}}}.dump());
  EXPECT_NE(full.body.find("--max-queue-mb"), std::string::npos) << full.body;
  EXPECT_EQ(request(s.port, "POST", "/queue", R"({"clear": true})").status, 200);  // frees the budget
  EXPECT_EQ(
      request(s.port, "POST", "/prompt", json{{"prompt", small_graph(9)}, {"extra_data", {{"n", part}}}}.dump()).status,
      200);
  EXPECT_EQ(request(s.port, "POST", "/interrupt", "").status, 200);
  EXPECT_EQ(s.stop(), 0);
}

TEST(Serve, BadServeOptionsAreUsageErrors) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--device", "tpu"}, std::vector<std::string>{"--max-queue-mb", "0"}}) {
    std::vector<std::string> full = {SF_SIGMAFLOW_EXE, "serve", "--port", "0"};
    full.insert(full.end(), args.begin(), args.end());
    pid_t pid = fork();
    if (pid == 0) {
      std::vector<char*> argv;
      for (auto& a : full) argv.push_back(a.data());
      argv.push_back(nullptr);
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      execv(SF_SIGMAFLOW_EXE, argv.data());
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status)) << args[0];
    EXPECT_EQ(WEXITSTATUS(status), 2) << args[0];
  }
}

TEST(Serve, ConformanceDetails) {
  Server s({"--max-connections", "8"});
  // Anonymous websocket clients each get their own sid; a clientId is URL-decoded.
  Ws anon1(s.port, "", "/ws"), anon2(s.port, "", "/ws");
  std::string sid1 = anon1.next().second["sid"], sid2 = anon2.next().second["sid"];
  EXPECT_NE(sid1, sid2);
  EXPECT_EQ(sid1.size(), 36u);
  Ws alice(s.port, "", "/ws?clientId=alice%40laptop");
  EXPECT_EQ(alice.next().second["sid"], "alice@laptop");
  std::string id = submit(s.port, small_graph(), "alice@laptop");
  EXPECT_EQ(outcome(alice, id).first, "execution_success");
  // /view: Content-Disposition, nosniff, HEAD without a body.
  json h = get_json(s.port, "/history/" + id)[id]["outputs"]["2"]["files"][0];
  const std::string view = "/view?filename=" + h["filename"].get<std::string>() +
                           "&subfolder=" + h["subfolder"].get<std::string>() + "&type=output";
  Reply v = request(s.port, "GET", view);
  EXPECT_NE(v.head.find("Content-Disposition: filename=\"" + h["filename"].get<std::string>() + "\""),
            std::string::npos)
      << v.head;
  EXPECT_NE(v.head.find("X-Content-Type-Options: nosniff"), std::string::npos);
  Reply head = request(s.port, "HEAD", view);
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(request(s.port, "OPTIONS", "/prompt").status, 204);
  // history: offset and max_items, also after a delete.
  std::vector<std::string> ids{id};
  for (int i = 0; i < 3; ++i) {
    ids.push_back(submit(s.port, small_graph(4 + i), "alice@laptop"));
    outcome(alice, ids.back());
  }
  auto keys = [&](const std::string& q) {
    std::set<std::string> k;
    const json h = get_json(s.port, "/history" + q);
    for (auto it = h.begin(); it != h.end(); ++it) k.insert(it.key());
    return k;
  };
  EXPECT_EQ(keys("?max_items=2"), (std::set<std::string>{ids[2], ids[3]}));
  EXPECT_EQ(keys("?max_items=2&offset=1"), (std::set<std::string>{ids[1], ids[2]}));
  EXPECT_EQ(request(s.port, "POST", "/history", json{{"delete", {ids[3]}}}.dump()).status, 200);
  EXPECT_EQ(keys("?max_items=2"), (std::set<std::string>{ids[1], ids[2]}));
  // number and front order the queue (lowest number first), as ComfyUI's priority queue.
  std::string blocker = submit(s.port, sampling_graph(10000, 20000), "alice@laptop");
  for (auto m = alice.next(); !(m.first == "progress" && m.second["prompt_id"] == blocker); m = alice.next())
    ASSERT_FALSE(m.first.empty());
  auto queue_with = [&](json extra) {
    json body = {{"prompt", small_graph(5)}};
    body.update(extra);
    Reply r = request(s.port, "POST", "/prompt", body.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body);
  };
  json late = queue_with({{"number", 100}}), early = queue_with({{"number", 2.5}}),
       first = queue_with({{"front", true}});
  EXPECT_EQ(late["number"], 100);
  EXPECT_EQ(early["number"], 2.5);
  EXPECT_LT(first["number"].get<double>(), 0);
  std::vector<std::string> order;
  const json queue = get_json(s.port, "/queue");
  for (const auto& e : queue["queue_pending"]) order.push_back(e[1]);
  EXPECT_EQ(queue["queue_running"][0][1], blocker) << queue.dump().substr(0, 2000);
  EXPECT_EQ(order, (std::vector<std::string>{first["prompt_id"], early["prompt_id"], late["prompt_id"]}));
  EXPECT_EQ(request(s.port, "POST", "/prompt", json{{"prompt", small_graph()}, {"prompt_id", ids[0]}}.dump()).status,
            400);  // an id already in the history
  EXPECT_EQ(request(s.port, "POST", "/queue", R"({"clear": true})").status, 200);
  EXPECT_EQ(request(s.port, "POST", "/interrupt", "").status, 200);
  // A validation error lists the outputs that depend on the bad node.
  Reply bad = request(s.port, "POST", "/prompt",
                      json{{"prompt", json::parse(R"({
      "1": {"class_type": "KarrasScheduler", "inputs": {"steps": 0}},
      "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": "a"}},
      "3": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": "b"}}})")}}
                          .dump());
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["node_errors"]["1"]["dependent_outputs"], (json{"2", "3"})) << bad.body;
  // Connections over the limit get a 503 they can read; idle websockets cannot take every slot.
  std::vector<std::unique_ptr<Ws>> sockets;
  for (int i = 0; i < 3; ++i) sockets.push_back(std::make_unique<Ws>(s.port, "w" + std::to_string(i)));
  std::vector<int> held;
  for (int i = 0; i < 8; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(s.port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    held.push_back(fd);
  }
  EXPECT_NE(raw(s.port, "GET /prompt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").find("503"), std::string::npos);
  for (int fd : held) close(fd);
  EXPECT_TRUE(s.alive());
  EXPECT_EQ(s.stop(), 0);
}

}  // namespace
