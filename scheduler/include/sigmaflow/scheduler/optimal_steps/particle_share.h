// The optimiser's training noises shared out across torchrun ranks, and the sums over them that
// do not depend on how many ranks there are.
//
// Particles go out in whole blocks of kParticleBlock, contiguous, in rank order; a sum over
// particles is diffusion::block_tree_sum's fixed tree over those blocks, so the plan is bit for
// bit the single process's for any world size (sigmaflow/diffusion/row_blocks.h).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

#include "sigmaflow/collectives.h"
#include "sigmaflow/diffusion/row_blocks.h"

namespace sf::oss {

constexpr int64_t kParticleBlock = 64;

// The training noises one process holds: its blocks of kParticleBlock (global particles [first,
// first + count) of `total`; group null: this process holds every particle) are rows [shadow,
// shadow + count) of its tensors. The `shadow` rows before them, when present, copy the first
// `shadow` global particles (two-evaluation samplers rank candidates on those on every rank): they
// are advanced like the others but never counted in an objective.
struct ParticleShare : diffusion::BlockShare {
  int64_t shadow = 0;
  int64_t local() const { return shadow + count; }
};

// This rank's share of `total` particles; `ranking` shadow rows when it does not own the first
// `ranking` particles itself (0: none needed). With fewer blocks than ranks, or no group, every
// rank holds everything (group null).
ParticleShare share_particles(const Collectives* group, int64_t total, int64_t ranking);

// The tree sum over all blocks of `partial(row0, rows)`: a float64 tensor of `width` values over
// owned rows [row0, row0 + rows) (row0 counted from the first owned row, not the shadow rows),
// called once per owned block. Returns a CPU float64 tensor of `width` values; a collective when sharded.
at::Tensor sum_over_blocks(const ParticleShare& share, int64_t width,
                           const std::function<at::Tensor(int64_t, int64_t)>& partial);

// [P, count] per-particle values -> [P, M], every rank's in global particle order (a collective
// when sharded); for objectives that need every particle (the trimmed mean).
at::Tensor all_particles(const ParticleShare& share, const at::Tensor& per_particle);

}  // namespace sf::oss
