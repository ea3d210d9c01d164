// Joining a torchrun launch: the environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT), a c10d TCPStore and a ProcessGroupGloo (CPU tensors; this LibTorch has no NCCL),
// behind the plugin API's Collectives. Under torchrun's elastic agent
// (TORCHELASTIC_USE_AGENT_STORE=True) the agent already hosts the store at MASTER_ADDR:MASTER_PORT,
// so every rank joins it as a client under "/worker/attempt_<TORCHELASTIC_RESTART_COUNT>", as
// PyTorch's own env:// rendezvous does; otherwise rank 0 hosts it.
//
// Failures: a rank that fails records "rank N: <message>" in the store before it exits; a rank
// whose collective fails (a peer's socket closed, or no answer within the timeout) reports the
// failed ranks it finds in the store, else the ranks that did not arrive. No hang: every
// collective and the rendezvous are bounded by the timeout (SIGMAFLOW_DIST_TIMEOUT seconds,
// default 120).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "sigmaflow/collectives.h"
#include "sigmaflow/status.h"

namespace sf::host {

struct LaunchEnv {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  double timeout_s = 120;
  bool agent_store = false;  // torchrun's agent hosts the store
  int restart_count = 0;     // torchrun's TORCHELASTIC_RESTART_COUNT
};

// The launch described by the environment; nullopt when RANK and WORLD_SIZE are both unset (a
// single process, as before). An error names the variable and value at fault.
Result<std::optional<LaunchEnv>> launch_from_environment();

class ProcessGroup : public Collectives {
 public:
  // Rendezvous with the other ranks. Errors name the address and the timeout.
  static Result<std::unique_ptr<ProcessGroup>> join(const LaunchEnv& env);
  ~ProcessGroup() override;

  int rank() const override;
  int world_size() const override;
  at::Tensor all_gather_rows(const at::Tensor& local) const override;
  at::Tensor all_reduce_sum(const at::Tensor& local) const override;

  // Records this rank's failure for the others to report (best effort, never throws).
  void record_failure(const std::string& message) const noexcept;
  // A barrier at the end of a successful run, so no rank tears the group down under another.
  Status finish() const;

 private:
  struct Impl;
  explicit ProcessGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sf::host
