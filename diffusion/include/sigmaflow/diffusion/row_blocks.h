// Work along the rows of a batch shared out across torchrun ranks, with results that do not
// depend on how many ranks there are (docs/scale-out.md).
//
// Two patterns. Per-row values (a log-density, a nearest mode, a squared distance): each rank
// computes a contiguous share of the rows and the values are gathered in row order, so the
// reduction that follows sees the single process's vector. Sums of per-row quantities (a mean, a
// covariance, a squared error summed over particles): rows go out in whole blocks, each block's
// sum is combined by one fixed binary tree over the blocks (node [lo, lo + size) = left half +
// right half, sizes powers of two, halves past the last block left out), and each rank sends the
// sums of the largest tree nodes inside its blocks: the same additions in the same order for any
// world size, O(log blocks) rows sent per rank.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

#include "sigmaflow/collectives.h"

namespace sf::diffusion {

// f(begin, end) for this rank's share of rows [0, n) (all of them alone, or when n < world size),
// gathered along dim 0 in row order: [n, ...] on every rank. f returns [end - begin, ...].
at::Tensor rows_gathered(const Collectives* group, int64_t n, const std::function<at::Tensor(int64_t, int64_t)>& f);

// Rows [first, first + count) of `total`, in blocks of `block` rows: this rank's whole blocks,
// contiguous, in rank order. With fewer blocks than ranks, or no group, one process holds all
// (group null).
struct BlockShare {
  const Collectives* group = nullptr;
  int64_t total = 0, block = 1, first = 0, count = 0;
  bool sharded() const { return group != nullptr; }
};
BlockShare share_blocks(const Collectives* group, int64_t total, int64_t block);

// The tree sum over every block of `partial(begin, end)` (global rows [begin, end) of one of
// this rank's blocks; a float64 tensor of `width` values). Returns a CPU float64 tensor of
// `width` values on every rank; a collective when sharded.
at::Tensor block_tree_sum(const BlockShare& share, int64_t width,
                          const std::function<at::Tensor(int64_t, int64_t)>& partial);

}  // namespace sf::diffusion
