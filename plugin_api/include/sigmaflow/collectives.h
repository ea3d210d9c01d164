// Collectives across the processes of one run under torchrun (RANK, WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT): what a node needs to shard its work and put the pieces back together. The host
// implements it with c10d (TCPStore + ProcessGroupGloo); a node reaches it through
// Context::collectives(), null in a single process.
//
// Contract: every rank calls the same collectives in the same order (nodes run in the same order
// on every rank, so a node that shards must call them unconditionally on every rank). Tensors are
// CPU tensors. Errors: throws std::runtime_error naming the rank that failed or did not answer
// within the timeout; the executor turns it into the node's error.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sigmaflow/value.h"

namespace sf {

class SF_SHARED Collectives {
 public:
  virtual ~Collectives();
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Every rank's `local` (CPU, same dtype and trailing shape; dim 0 may differ) concatenated
  // along dim 0 in rank order.
  virtual at::Tensor all_gather_rows(const at::Tensor& local) const = 0;
  // The elementwise sum over ranks (CPU, same shape everywhere).
  virtual at::Tensor all_reduce_sum(const at::Tensor& local) const = 0;

  // Rows [begin, end) of `total` that this rank owns: contiguous, sizes differ by at most one,
  // rank order (so all_gather_rows of the pieces is the whole in order).
  std::pair<int64_t, int64_t> shard(int64_t total) const;
  // Every rank's string, in rank order.
  std::vector<std::string> all_gather_strings(const std::string& local) const;
};

}  // namespace sf
