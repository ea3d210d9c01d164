// The network side of `sigmaflow serve`: Boost.Beast HTTP/1.1 sessions and websocket sessions on
// one Boost.Asio thread, in front of ServerCore. Limits: request header 16 kB, body
// ServeOptions::max_body_bytes (413 past it), idle and header-read timeouts (slowloris), incoming
// websocket messages, connections, and a bounded outbox per websocket client (a client that does
// not read is dropped).
#include "server/net.h"

#include <fmt/format.h>

#include <signal.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "server/core_state.h"
#include "server/server_core.h"
#include "sigmaflow/files.h"

namespace sf::host {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr size_t kMaxOutbox = 20000;  // websocket messages queued for one client
constexpr char kBusyReply[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 32\r\n"
    "Connection: close\r\n\r\ntoo many connections, try later\n";

class WsSession;

// Websocket sessions by client id; events go to one client or to all.
class Hub {
 public:
  void add(const std::string& id, const std::shared_ptr<WsSession>& s) {
    std::lock_guard<std::mutex> lock(m_);
    sessions_.emplace(id, s);
  }
  void remove(const std::string& id, const WsSession* s) {
    std::lock_guard<std::mutex> lock(m_);
    for (auto it = sessions_.lower_bound(id); it != sessions_.end() && it->first == id;)
      it = it->second.expired() || it->second.lock().get() == s ? sessions_.erase(it) : std::next(it);
  }
  void send(const std::string& client, const std::string& message);
  // Messages still queued for any client (shutdown waits for them to drain).
  std::atomic<size_t> queued{0};

 private:
  std::mutex m_;
  std::multimap<std::string, std::weak_ptr<WsSession>> sessions_;
};

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& socket, Hub& hub, ServerCore& core, std::string client_id, std::atomic<size_t>& open)
      : ws_(std::move(socket)), hub_(hub), core_(core), client_id_(std::move(client_id)), open_(open) {
    ++open_;
  }
  ~WsSession() { --open_; }

  void run(http::request<http::string_body> req) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(core_.options().max_ws_message_bytes);
    ws_.async_accept(req, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
  }
  void send(std::string message) {
    net::post(ws_.get_executor(), [self = shared_from_this(), m = std::move(message)]() mutable {
      if (self->closed_) return;
      if (self->outbox_.size() >= kMaxOutbox) {  // the client does not read: drop it
        self->close();
        return;
      }
      ++self->hub_.queued;
      self->outbox_.push_back(std::move(m));
      if (self->outbox_.size() == 1) self->write_next();
    });
  }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) return;
    hub_.add(client_id_, shared_from_this());
    send(core_.status_message(client_id_));
    read_next();
  }
  void read_next() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) {
        self->close();
        return;
      }
      self->buffer_.consume(n);  // clients send nothing ComfyUI answers; read to notice closes
      self->read_next();
    });
  }
  void write_next() {
    ws_.text(true);
    ws_.async_write(net::buffer(outbox_.front()), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->close();
        return;
      }
      self->outbox_.pop_front();
      --self->hub_.queued;
      if (!self->outbox_.empty()) self->write_next();
    });
  }
  void close() {
    if (closed_) return;
    closed_ = true;
    hub_.remove(client_id_, this);
    hub_.queued -= outbox_.size();
    outbox_.clear();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outbox_;
  Hub& hub_;
  ServerCore& core_;
  std::string client_id_;
  std::atomic<size_t>& open_;
  bool closed_ = false;
};

void Hub::send(const std::string& client, const std::string& message) {
  std::vector<std::shared_ptr<WsSession>> targets;
  {
    std::lock_guard<std::mutex> lock(m_);
    for (auto& [id, weak] : sessions_)
      if (client.empty() || id == client)
        if (auto s = weak.lock()) targets.push_back(s);
  }
  for (auto& s : targets) s->send(message);
}

std::string query_value(const std::string& target, const std::string& key) {
  size_t q = target.find('?');
  if (q == std::string::npos) return {};
  std::string rest = "&" + target.substr(q + 1);
  size_t at = rest.find("&" + key + "=");
  if (at == std::string::npos) return {};
  size_t start = at + key.size() + 2, end = rest.find('&', start);
  return url_decode(rest.substr(start, end == std::string::npos ? std::string::npos : end - start), true);
}

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, Hub& hub, ServerCore& core, net::thread_pool& workers, std::atomic<size_t>& open,
              std::atomic<size_t>& open_ws)
      : stream_(std::move(socket)),
        hub_(hub),
        core_(core),
        workers_(workers),
        o_(core.options()),
        open_(open),
        open_ws_(open_ws) {
    ++open_;
  }
  ~HttpSession() { --open_; }
  void run() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::read, shared_from_this()));
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(o_.max_body_bytes);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::seconds(o_.idle_timeout_s));
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof)
      return close();
    if (ec == http::error::body_limit) return reply(text(413, "request body over the limit (--max-body)"), false);
    if (ec) return reply(text(400, "malformed HTTP request: " + ec.message()), false);
    auto req = parser_->release();
    std::string target(req.target());
    std::string path = target.substr(0, target.find('?'));
    std::string refused =
        core_.check_origin_of(std::string(req[http::field::host]), std::string(req[http::field::origin]));
    if (!refused.empty()) return reply(text(403, refused), false);
    if (websocket::is_upgrade(req)) {
      if (path != "/ws" && path != "/api/ws") return reply(text(404, "no websocket at " + path.substr(0, 200)), false);
      if (open_ws_ >= o_.max_websockets) return reply(text(503, "too many websocket connections, try later"), false);
      std::string id = query_value(target, "clientId");
      if (id.empty() || id.size() > 128) id = server_detail::uuid4();  // each anonymous client its own sid
      std::make_shared<WsSession>(stream_.release_socket(), hub_, core_, id, open_ws_)->run(std::move(req));
      return;
    }
    keep_alive_ = req.keep_alive();
    head_ = req.method() == http::verb::head;
    if (req.method() == http::verb::options) {
      auto r = text(204, "");
      r.set(http::field::allow, "GET, HEAD, POST, OPTIONS");
      return reply(std::move(r), keep_alive_);
    }
    // The network thread only parses and routes: validation, serialisation and file checks run
    // on the workers, and the answer comes back to this session's strand.
    HttpRequest request{head_ ? std::string("GET") : std::string(req.method_string()), target, std::move(req.body()),
                        std::string(req[http::field::content_type])};
    net::post(workers_, [self = shared_from_this(), request = std::move(request)]() mutable {
      auto res = std::make_shared<HttpResponse>(self->core_.handle(request));
      net::post(self->stream_.get_executor(), [self, res] { self->answer(*res); });
    });
  }

  void answer(HttpResponse& res) {
    if (!res.file.empty() && !head_) return reply_file(res);
    http::response<http::string_body> r{static_cast<http::status>(res.status), 11};
    r.set(http::field::content_type, res.content_type);
    for (const auto& [k, v] : res.headers) r.set(k, v);
    if (head_) {
      r.content_length(res.body.size());
      finish(r, keep_alive_, false);
      auto sp = std::make_shared<http::response<http::string_body>>(std::move(r));
      http::async_write(stream_, *sp,
                        [self = shared_from_this(), sp, keep = keep_alive_](beast::error_code ec, size_t) {
                          if (ec || !keep) return self->close();
                          self->read();
                        });
      return;
    }
    r.body() = std::move(res.body);
    reply(std::move(r), keep_alive_);
  }

  http::response<http::string_body> text(int status, const std::string& message) {
    http::response<http::string_body> r{static_cast<http::status>(status), 11};
    r.set(http::field::content_type, "text/plain; charset=utf-8");
    r.body() = message.empty() ? message : message + "\n";
    return r;
  }

  template <class Body>
  void finish(http::response<Body>& r, bool keep, bool prepare = true) {
    r.set(http::field::server, "sigmaflow");
    r.set("X-Content-Type-Options", "nosniff");
    if (!o_.cors_origin.empty()) {
      r.set(http::field::access_control_allow_origin, o_.cors_origin);
      r.set(http::field::access_control_allow_methods, "GET, POST, OPTIONS");
      r.set(http::field::access_control_allow_headers, "Content-Type, Authorization");
    }
    r.keep_alive(keep);
    if (prepare) r.prepare_payload();
  }

  void reply(http::response<http::string_body>&& r, bool keep) {
    finish(r, keep);
    auto sp = std::make_shared<http::response<http::string_body>>(std::move(r));
    http::async_write(stream_, *sp, [self = shared_from_this(), sp, keep](beast::error_code ec, size_t) {
      if (ec || !keep) return self->close();
      self->read();
    });
  }

  void reply_file(const HttpResponse& res) {
    beast::error_code ec;
    http::file_body::value_type body;
    body.open(res.file.c_str(), beast::file_mode::scan, ec);
    if (ec) return reply(text(404, "no such file"), keep_alive_);
    auto sp = std::make_shared<http::response<http::file_body>>(
        std::piecewise_construct, std::make_tuple(std::move(body)), std::make_tuple(http::status::ok, 11));
    sp->set(http::field::content_type, res.content_type);
    for (const auto& [k, v] : res.headers) sp->set(k, v);
    finish(*sp, keep_alive_);
    bool keep = keep_alive_;
    http::async_write(stream_, *sp, [self = shared_from_this(), sp, keep](beast::error_code ec, size_t) {
      if (ec || !keep) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Hub& hub_;
  ServerCore& core_;
  net::thread_pool& workers_;
  const ServeOptions& o_;
  std::atomic<size_t>& open_;
  std::atomic<size_t>& open_ws_;
  bool keep_alive_ = false;
  bool head_ = false;
};

// Open connections, counted by the sessions. Owned by run_server and declared before the
// io_context: the io_context's destructor destroys the sessions its pending handlers still hold,
// and their destructors count down here.
struct ConnectionCounts {
  std::atomic<size_t> open{0};
  std::atomic<size_t> open_ws{0};
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, tcp::endpoint at, Hub& hub, ServerCore& core, net::thread_pool& workers,
           ConnectionCounts& counts)
      : ioc_(ioc),
        acceptor_(ioc),
        hub_(hub),
        core_(core),
        workers_(workers),
        open_(counts.open),
        open_ws_(counts.open_ws) {
    acceptor_.open(at.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(at);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  void accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (!ec) {
        if (self->open_ + self->open_ws_ >= self->core_.options().max_connections) {
          // Over the connection limit: a 503 the client can read, then close.
          auto sock = std::make_shared<tcp::socket>(std::move(s));
          net::async_write(*sock, net::buffer(kBusyReply, sizeof kBusyReply - 1), [sock](beast::error_code, size_t) {
            beast::error_code ignored;
            sock->shutdown(tcp::socket::shutdown_both, ignored);
            sock->close(ignored);
          });
        } else {
          std::make_shared<HttpSession>(std::move(s), self->hub_, self->core_, self->workers_, self->open_,
                                        self->open_ws_)
              ->run();
        }
      }
      if (self->acceptor_.is_open()) self->accept();
    });
  }
  void stop() {
    beast::error_code ec;
    acceptor_.close(ec);
  }

 private:
  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  Hub& hub_;
  ServerCore& core_;
  net::thread_pool& workers_;
  std::atomic<size_t>& open_;
  std::atomic<size_t>& open_ws_;
};

}  // namespace

int run_server(const NodeSource& source, const ServeOptions& options) {
  // Writes to a dead executor process's pipe must fail with EPIPE, not end the server.
  ::signal(SIGPIPE, SIG_IGN);
  // Declaration order is destruction order in reverse: everything a session refers to (workers,
  // hub, core, counts) is declared before the io_context, whose destructor destroys the sessions
  // still held by pending handlers.
  net::thread_pool workers(2);
  Hub hub;
  ServerCore core(source, options, [&hub](const std::string& client, const std::string& m) { hub.send(client, m); });
  ConnectionCounts counts;
  net::io_context ioc{1};
  beast::error_code ec;
  auto address = net::ip::make_address(options.listen, ec);
  if (ec) {
    fmt::print(stderr, "error: --listen '{}' is not an IP address\n", options.listen);
    return 2;
  }
  std::shared_ptr<Listener> listener;
  try {
    listener = std::make_shared<Listener>(ioc, tcp::endpoint{address, static_cast<unsigned short>(options.port)}, hub,
                                          core, workers, counts);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: cannot listen on {}:{}: {}\n", options.listen, options.port, e.what());
    return 1;
  }
  listener->accept();
  core.start();
  // Every 4 s: a status message while a prompt runs (ServerCore::keepalive).
  net::steady_timer keepalive(ioc);
  std::function<void()> tick = [&] {
    keepalive.expires_after(std::chrono::seconds(4));
    keepalive.async_wait([&](beast::error_code e) {
      if (e) return;
      core.keepalive();
      tick();
    });
  };
  tick();
  // SIGINT / SIGTERM: stop accepting, interrupt the running prompt and drop the pending ones
  // (their clients are told), let the websocket messages drain, and exit 0 within
  // kShutdownSeconds even when a node does not stop (its in-flight temporary files are removed).
  // The running node gets kStopGrace to stop at its next step; then its process is ended.
  constexpr auto kStopGrace = std::chrono::milliseconds(3000);
  constexpr auto kShutdownLimit = std::chrono::milliseconds(4500);
  net::steady_timer shutdown(ioc);
  std::chrono::steady_clock::time_point started{}, drained_at{};
  int kills = 0;
  std::function<void()> wait_for_executor = [&] {
    shutdown.expires_after(std::chrono::milliseconds(20));
    shutdown.async_wait([&](beast::error_code e) {
      if (e) return;
      auto now = std::chrono::steady_clock::now();
      // A node that does not stop: SIGTERM to its process (temporary files removed), then SIGKILL.
      if (kills < 2 && now - started > kStopGrace + kills * std::chrono::milliseconds(500) && !core.executor_done())
        core.kill_executor_process(kills++ == 1);
      const bool quiet = core.executor_done() && hub.queued == 0;
      if (quiet && drained_at == std::chrono::steady_clock::time_point{}) drained_at = now;
      if ((quiet && now - drained_at > std::chrono::milliseconds(100)) || now - started > kShutdownLimit)
        return ioc.stop();
      wait_for_executor();
    });
  };
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int sig) {
    fmt::print("signal {}: stopping (interrupting the running prompt)\n", sig);
    std::fflush(stdout);
    listener->stop();
    keepalive.cancel();
    core.begin_stop();
    started = std::chrono::steady_clock::now();
    wait_for_executor();
  });
  fmt::print("sigmaflow serve: listening on http://{}:{} (outputs in {}, inputs from {} and {})\n", options.listen,
             listener->port(), options.out_dir, options.input_dir, options.models_dir);
  std::fflush(stdout);
  ioc.run();
  core.stop();
  workers.join();
  remove_inflight_temp_files();
  return 0;
}

}  // namespace sf::host
