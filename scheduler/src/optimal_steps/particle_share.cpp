#include "sigmaflow/scheduler/optimal_steps/particle_share.h"

#include <ATen/ATen.h>

#include <map>
#include <stdexcept>
#include <utility>
#include <vector>

namespace sf::oss {

namespace {

int64_t blocks_of(int64_t particles) { return (particles + kParticleBlock - 1) / kParticleBlock; }

using Node = std::pair<int64_t, int64_t>;  // (first block, size)

// The tree node [lo, lo + size) from the sums found for it or its descendants.
at::Tensor tree_sum(int64_t lo, int64_t size, int64_t blocks, const std::map<Node, at::Tensor>& known) {
  if (auto it = known.find({lo, size}); it != known.end()) return it->second;
  if (size == 1) throw std::logic_error("particle block " + std::to_string(lo) + " has no sum");
  const int64_t half = size / 2;
  at::Tensor left = tree_sum(lo, half, blocks, known);
  if (lo + half >= blocks) return left;
  return left + tree_sum(lo + half, half, blocks, known);
}

// The largest tree nodes covering blocks [b0, b1).
std::vector<Node> cover(int64_t b0, int64_t b1) {
  std::vector<Node> nodes;
  for (int64_t p = b0; p < b1;) {
    int64_t size = 1;
    while (p % (2 * size) == 0 && p + 2 * size <= b1) size *= 2;
    nodes.emplace_back(p, size);
    p += size;
  }
  return nodes;
}

}  // namespace

ParticleShare share_particles(const Collectives* group, int64_t total, int64_t ranking) {
  ParticleShare p;
  p.total = total;
  const int64_t blocks = blocks_of(total);
  const int world = group ? group->world_size() : 1;
  if (world <= 1 || blocks < world) {
    p.owned = total;
    return p;
  }
  p.group = group;
  const int64_t r = group->rank(), b0 = blocks * r / world, b1 = blocks * (r + 1) / world;
  p.first = b0 * kParticleBlock;
  p.owned = std::min(total, b1 * kParticleBlock) - p.first;
  p.shadow = ranking > 0 && !(p.first == 0 && p.owned >= ranking) ? ranking : 0;
  return p;
}

at::Tensor sum_over_blocks(const ParticleShare& share, int64_t width,
                           const std::function<at::Tensor(int64_t, int64_t)>& partial) {
  const int64_t blocks = blocks_of(share.total), b0 = share.first / kParticleBlock;
  std::map<Node, at::Tensor> mine;
  for (int64_t r0 = 0; r0 < share.owned; r0 += kParticleBlock)
    mine[{b0 + r0 / kParticleBlock, 1}] =
        partial(r0, std::min(kParticleBlock, share.owned - r0)).reshape({width}).to(at::kCPU, at::kDouble);
  const std::vector<Node> nodes = cover(b0, b0 + blocks_of(share.owned));
  int64_t root = 1;
  while (root < blocks) root *= 2;
  if (!share.sharded()) return tree_sum(0, root, blocks, mine).clone();
  // Rows of (node sum..., first block, size), gathered from every rank.
  at::Tensor rows = at::empty({static_cast<int64_t>(nodes.size()), width + 2}, at::kDouble);
  for (size_t k = 0; k < nodes.size(); ++k) {
    at::Tensor row = rows[static_cast<int64_t>(k)];
    row.narrow(0, 0, width).copy_(tree_sum(nodes[k].first, nodes[k].second, blocks, mine));
    row[width] = static_cast<double>(nodes[k].first);
    row[width + 1] = static_cast<double>(nodes[k].second);
  }
  at::Tensor all = share.group->all_gather_rows(rows);
  std::map<Node, at::Tensor> known;
  const double* p = all.data_ptr<double>();
  for (int64_t k = 0; k < all.size(0); ++k)
    known[{static_cast<int64_t>(p[k * (width + 2) + width]), static_cast<int64_t>(p[k * (width + 2) + width + 1])}] =
        all[k].narrow(0, 0, width);
  return tree_sum(0, root, blocks, known).clone();
}

at::Tensor all_particles(const ParticleShare& share, const at::Tensor& per_particle) {
  if (!share.sharded()) return per_particle.contiguous();
  at::Tensor rows = share.group->all_gather_rows(per_particle.t().contiguous().to(at::kCPU));
  return rows.t().contiguous().to(per_particle.device());
}

}  // namespace sf::oss
