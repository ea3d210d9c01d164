// `sigmaflow serve` as a client sees it: ComfyUI's routes and shapes, the websocket event order,
// caching between prompts, interrupt, errors, SIGTERM with a queue, disconnecting clients, and 30+
// malformed requests (none may crash or hang the server). The server runs as a child process on a
// free loopback port.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
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
    fs::remove_all(out);
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      close(fds[1]);
      setenv("SIGMAFLOW_CACHE_DIR", (out + "-cache").c_str(), 1);
      std::vector<std::string> args = {SF_SIGMAFLOW_EXE, "serve", "--port", "0", "--out", out};
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
    fs::remove_all(out);
    fs::remove_all(out + "-cache");
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

  int port = 0;
  std::string out;

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool stopped_ = false;
  static inline int count_ = 0;
};

// Sends raw bytes, returns everything the server answers until it closes (or `timeout_ms`).
std::string raw(int port, const std::string& bytes, int timeout_ms = 5000, bool half_close = true) {
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
  while (std::chrono::steady_clock::now() < end) {
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
  std::string body;
};

Reply request(int port, const std::string& method, const std::string& target, const std::string& body = "") {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!body.empty() || method == "POST")
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  std::string text = raw(port, req + "\r\n" + body, 30000);
  Reply r;
  if (text.rfind("HTTP/1.1 ", 0) == 0) r.status = std::stoi(text.substr(9, 3));
  size_t at = text.find("\r\n\r\n");
  if (at != std::string::npos) r.body = text.substr(at + 4);
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
  Ws(int port, const std::string& client) : ws_(ioc_) {
    boost::asio::ip::tcp::resolver resolver(ioc_);
    auto results = resolver.resolve("127.0.0.1", std::to_string(port));
    boost::beast::get_lowest_layer(ws_).connect(results);
    ws_.handshake("127.0.0.1", "/ws?clientId=" + client);
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
  json bad = json::parse(R"({"1": {"class_type": "LoadSigmas", "inputs": {"path": "/nonexistent/s.json"}},
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
      {"queue: delete not a list", "POST", "/queue", R"({"delete": "x"})", 200},
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
      {"view: input type", "GET", "/view?filename=ok.txt&subfolder=sub&type=input", "", 400},
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
                    "GET /notws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: "
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

}  // namespace
