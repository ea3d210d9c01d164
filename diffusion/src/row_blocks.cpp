#include "sigmaflow/diffusion/row_blocks.h"

#include <ATen/ATen.h>

#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sf::diffusion {

namespace {

using Node = std::pair<int64_t, int64_t>;  // (first block, size in blocks)

// The tree node [lo, lo + size) from the sums known for it or its descendants.
at::Tensor tree_sum(int64_t lo, int64_t size, int64_t blocks, const std::map<Node, at::Tensor>& known) {
  if (auto it = known.find({lo, size}); it != known.end()) return it->second;
  if (size == 1) throw std::logic_error("row block " + std::to_string(lo) + " has no sum");
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

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

at::Tensor rows_gathered(const Collectives* group, int64_t n, const std::function<at::Tensor(int64_t, int64_t)>& f) {
  if (!group || group->world_size() <= 1 || n < group->world_size()) return f(0, n);
  auto [begin, end] = group->shard(n);
  at::Tensor mine = f(begin, end);
  return group->all_gather_rows(mine.to(at::kCPU)).to(mine.device());
}

BlockShare share_blocks(const Collectives* group, int64_t total, int64_t block) {
  BlockShare s;
  s.total = total;
  s.block = block;
  const int64_t blocks = ceil_div(total, block);
  const int world = group ? group->world_size() : 1;
  if (world <= 1 || blocks < world) {
    s.count = total;
    return s;
  }
  s.group = group;
  const int64_t r = group->rank(), b0 = blocks * r / world, b1 = blocks * (r + 1) / world;
  s.first = b0 * block;
  s.count = std::min(total, b1 * block) - s.first;
  return s;
}

at::Tensor block_tree_sum(const BlockShare& share, int64_t width,
                          const std::function<at::Tensor(int64_t, int64_t)>& partial) {
  const int64_t blocks = ceil_div(share.total, share.block), b0 = share.first / share.block;
  std::map<Node, at::Tensor> mine;
  for (int64_t r = share.first; r < share.first + share.count; r += share.block)
    mine[{r / share.block, 1}] =
        partial(r, std::min(r + share.block, share.first + share.count)).reshape({width}).to(at::kCPU, at::kDouble);
  int64_t root = 1;
  while (root < blocks) root *= 2;
  if (!share.sharded()) return tree_sum(0, root, blocks, mine).clone();
  // Rows of (node sum..., first block, size), gathered from every rank.
  const std::vector<Node> nodes = cover(b0, b0 + ceil_div(share.count, share.block));
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

}  // namespace sf::diffusion
