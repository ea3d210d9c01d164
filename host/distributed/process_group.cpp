#include "distributed/process_group.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace sf::host {

namespace {

std::string hostname() {
  char name[256] = {0};
  ::gethostname(name, sizeof name - 1);
  return name;
}

bool parse_int(const char* text, long lo, long hi, long& out) {
  if (!text || !*text) return false;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
  out = v;
  return true;
}

// Waits until something listens at addr:port, polling every 10 ms. c10d's TCPStore client retries
// a refused connection only once a second, which made every launch where a client starts before
// rank 0's server a second slower.
void wait_for_listener(const std::string& addr, int port, double timeout_s) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(addr.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  bool up = false;
  while (!up && std::chrono::steady_clock::now() < deadline) {
    for (addrinfo* a = found; a && !up; a = a->ai_next) {
      int s = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
      if (s < 0) continue;
      up = ::connect(s, a->ai_addr, a->ai_addrlen) == 0;
      ::close(s);
    }
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::freeaddrinfo(found);
}

}  // namespace

Result<std::optional<LaunchEnv>> launch_from_environment() {
  const char* rank = std::getenv("RANK");
  const char* world = std::getenv("WORLD_SIZE");
  if (!rank && !world) return std::optional<LaunchEnv>();
  LaunchEnv e;
  long v = 0;
  auto bad = [](const std::string& name, const char* value, const std::string& why) {
    return InvalidArgument("torchrun environment: " + name + "=\"" + (value ? value : "(unset)") + "\" " + why);
  };
  if (!parse_int(world, 1, 1 << 20, v)) return bad("WORLD_SIZE", world, "is not a process count >= 1");
  e.world_size = static_cast<int>(v);
  if (!parse_int(rank, 0, e.world_size - 1, v))
    return bad("RANK", rank, "is not a rank in 0.." + std::to_string(e.world_size - 1));
  e.rank = static_cast<int>(v);
  if (const char* lr = std::getenv("LOCAL_RANK")) {
    if (!parse_int(lr, 0, 1 << 20, v)) return bad("LOCAL_RANK", lr, "is not a rank >= 0");
    e.local_rank = static_cast<int>(v);
  }
  if (const char* addr = std::getenv("MASTER_ADDR")) e.master_addr = addr;
  if (e.master_addr.empty()) return bad("MASTER_ADDR", "", "is empty");
  if (const char* port = std::getenv("MASTER_PORT")) {
    if (!parse_int(port, 1, 65535, v)) return bad("MASTER_PORT", port, "is not a port in 1..65535");
    e.master_port = static_cast<int>(v);
  }
  if (const char* t = std::getenv("SIGMAFLOW_DIST_TIMEOUT")) {
    if (!parse_int(t, 1, 86400, v)) return bad("SIGMAFLOW_DIST_TIMEOUT", t, "is not a number of seconds in 1..86400");
    e.timeout_s = static_cast<double>(v);
  }
  if (const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE")) e.agent_store = std::string(agent) == "True";
  if (const char* restarts = std::getenv("TORCHELASTIC_RESTART_COUNT")) {
    if (!parse_int(restarts, 0, 1 << 20, v))
      return bad("TORCHELASTIC_RESTART_COUNT", restarts, "is not a restart count >= 0");
    e.restart_count = static_cast<int>(v);
  }
  return std::optional<LaunchEnv>(e);
}

struct ProcessGroup::Impl {
  LaunchEnv env;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;

  // The message of a failed collective: the ranks that recorded a failure, else the timeout.
  std::string explain(const std::exception& e) const {
    std::string failed;
    for (int r = 0; r < env.world_size; ++r) {
      if (r == env.rank) continue;
      const std::string key = "sigmaflow/failed/" + std::to_string(r);
      try {
        if (store->check({key})) {
          auto bytes = store->get(key);
          failed += (failed.empty() ? "" : "; ") + std::string(bytes.begin(), bytes.end());
        }
      } catch (...) {
      }
    }
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    if (!failed.empty()) return "another rank failed: " + failed;
    // Ranks on this host whose process is gone (killed, crashed).
    std::string gone;
    for (int r = 0; r < env.world_size; ++r) {
      if (r == env.rank) continue;
      try {
        auto bytes = store->get("sigmaflow/pid/" + std::to_string(r));
        std::string text(bytes.begin(), bytes.end());
        size_t at = text.find('@');
        if (at != std::string::npos && text.substr(at + 1) == hostname()) {
          pid_t pid = static_cast<pid_t>(std::stol(text.substr(0, at)));
          if (::kill(pid, 0) != 0 && errno == ESRCH)
            gone += (gone.empty() ? "" : ", ") + std::to_string(r) + " (pid " + std::to_string(pid) + ")";
        }
      } catch (...) {
      }
    }
    if (!gone.empty()) return "rank " + gone + " died during the run (its process is gone): " + what;
    return "rank " + std::to_string(env.rank) + ": a collective across " + std::to_string(env.world_size) +
           " ranks failed (a rank died or did not answer within " + std::to_string(static_cast<int>(env.timeout_s)) +
           " s): " + what;
  }

  // Time and bytes spent in collectives (SIGMAFLOW_DIST_STATS=1 prints them at the end).
  mutable double seconds = 0;
  mutable int64_t calls = 0, bytes = 0;

  template <class F>
  auto guarded(F f, int64_t payload = 0) const {
    auto t0 = std::chrono::steady_clock::now();
    struct Count {
      const Impl& impl;
      std::chrono::steady_clock::time_point t0;
      ~Count() { impl.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }
    } count{*this, t0};
    ++calls;
    bytes += payload;
    try {
      return f();
    } catch (const std::exception& e) {
      throw std::runtime_error(explain(e));
    }
  }
};

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessGroup::~ProcessGroup() = default;

Result<std::unique_ptr<ProcessGroup>> ProcessGroup::join(const LaunchEnv& env) {
  auto impl = std::make_unique<Impl>();
  impl->env = env;
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(env.timeout_s * 1000));
  try {
    c10d::TCPStoreOptions o;
    o.port = static_cast<std::uint16_t>(env.master_port);
    o.isServer = env.rank == 0 && !env.agent_store;
    o.numWorkers = static_cast<std::size_t>(env.world_size);
    o.waitWorkers = true;
    o.timeout = timeout;
    if (!o.isServer) wait_for_listener(env.master_addr, env.master_port, env.timeout_s);
    impl->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
    if (env.agent_store)
      impl->store =
          c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(env.restart_count), impl->store);
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    impl->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, env.rank, env.world_size, opts);
    const std::string me = std::to_string(::getpid()) + "@" + hostname();
    impl->store->set("sigmaflow/pid/" + std::to_string(env.rank), std::vector<uint8_t>(me.begin(), me.end()));
  } catch (const std::exception& e) {
    std::string what = e.what();
    return Status(Code::kFailedPrecondition,
                  "rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                      ": could not join the process group at " + env.master_addr + ":" +
                      std::to_string(env.master_port) + " within " + std::to_string(static_cast<int>(env.timeout_s)) +
                      " s: " + what.substr(0, what.find('\n')));
  }
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(std::move(impl)));
}

int ProcessGroup::rank() const { return impl_->env.rank; }
int ProcessGroup::world_size() const { return impl_->env.world_size; }

at::Tensor ProcessGroup::all_gather_rows(const at::Tensor& local_in) const {
  return impl_->guarded(
      [&] {
        at::Tensor local = local_in.to(at::kCPU).contiguous();
        const int w = impl_->env.world_size;
        // Row counts first, then every piece padded to the largest.
        std::vector<at::Tensor> in_n{at::full({1}, local.size(0), at::kLong)};
        std::vector<std::vector<at::Tensor>> out_n(1);
        for (int r = 0; r < w; ++r) out_n[0].push_back(at::empty({1}, at::kLong));
        impl_->pg->allgather(out_n, in_n)->wait();
        int64_t most = 0;
        std::vector<int64_t> rows;
        for (const auto& t : out_n[0]) {
          rows.push_back(t.item<int64_t>());
          most = std::max(most, rows.back());
        }
        std::vector<int64_t> shape = local.sizes().vec();
        shape[0] = most;
        at::Tensor padded = at::zeros(shape, local.options());
        if (local.size(0) > 0) padded.narrow(0, 0, local.size(0)).copy_(local);
        std::vector<at::Tensor> in{padded};
        std::vector<std::vector<at::Tensor>> out(1);
        for (int r = 0; r < w; ++r) out[0].push_back(at::empty(shape, local.options()));
        impl_->pg->allgather(out, in)->wait();
        std::vector<at::Tensor> pieces;
        for (int r = 0; r < w; ++r)
          pieces.push_back(out[0][static_cast<size_t>(r)].narrow(0, 0, rows[static_cast<size_t>(r)]));
        return at::cat(pieces, 0);
      },
      local_in.numel() * static_cast<int64_t>(local_in.element_size()));
}

at::Tensor ProcessGroup::all_reduce_sum(const at::Tensor& local) const {
  return impl_->guarded(
      [&] {
        std::vector<at::Tensor> t{local.to(at::kCPU).contiguous().clone()};
        impl_->pg->allreduce(t)->wait();
        return t[0];
      },
      local.numel() * static_cast<int64_t>(local.element_size()));
}

void ProcessGroup::record_failure(const std::string& message) const noexcept {
  try {
    const std::string text = "rank " + std::to_string(impl_->env.rank) + ": " + message;
    impl_->store->set("sigmaflow/failed/" + std::to_string(impl_->env.rank),
                      std::vector<uint8_t>(text.begin(), text.end()));
  } catch (...) {
  }
}

Status ProcessGroup::finish() const {
  if (std::getenv("SIGMAFLOW_DIST_STATS"))
    std::fprintf(stderr, "[rank %d] collectives: %lld calls, %.3f s, %.1f MB sent\n", impl_->env.rank,
                 static_cast<long long>(impl_->calls), impl_->seconds, static_cast<double>(impl_->bytes) / 1e6);
  try {
    impl_->guarded([&] {
      impl_->pg->barrier()->wait();
      return 0;
    });
  } catch (const std::exception& e) {
    return Status(Code::kFailedPrecondition, e.what());
  }
  return Status();
}

}  // namespace sf::host
