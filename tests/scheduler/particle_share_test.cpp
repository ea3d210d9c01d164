// The optimiser's particle shares (whole blocks, contiguous, rank order, shadow rows for the
// ranking particles) and its tree sum over blocks (the documented pairwise order, checked on
// values where the order decides the result). The sums across real ranks are tested in
// tests/distributed (2 and 3 processes give the single process's plan bit for bit).
#include "sigmaflow/scheduler/optimal_steps/particle_share.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <stdexcept>

namespace {

using sf::oss::kParticleBlock;
using sf::oss::ParticleShare;

// Rank and world size only: share_particles asks nothing else.
class Layout : public sf::Collectives {
 public:
  Layout(int rank, int world) : rank_(rank), world_(world) {}
  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  at::Tensor all_gather_rows(const at::Tensor&) const override { throw std::logic_error("not here"); }
  at::Tensor all_reduce_sum(const at::Tensor&) const override { throw std::logic_error("not here"); }

 private:
  int rank_, world_;
};

TEST(ParticleShare, RanksOwnWholeContiguousBlocksCoveringEveryParticleOnce) {
  for (int64_t total : {300, 512, 4096}) {
    for (int world : {2, 3, 4}) {
      int64_t next = 0;
      for (int r = 0; r < world; ++r) {
        Layout g(r, world);
        ParticleShare p = sf::oss::share_particles(&g, total, 8);
        ASSERT_TRUE(p.sharded());
        EXPECT_EQ(p.first, next) << total << " " << world << " " << r;
        EXPECT_EQ(p.first % kParticleBlock, 0);
        EXPECT_GT(p.count, 0);
        // Shadow rows only where the first 8 particles live elsewhere.
        EXPECT_EQ(p.shadow, r == 0 ? 0 : 8);
        next = p.first + p.count;
      }
      EXPECT_EQ(next, total);
    }
  }
  // 300 particles = 5 blocks over 3 ranks: 1, 2 and 2 blocks (the last one short).
  Layout g2(2, 3);
  ParticleShare p = sf::oss::share_particles(&g2, 300, 8);
  EXPECT_EQ(p.first, 192);
  EXPECT_EQ(p.count, 108);
}

TEST(ParticleShare, FewerBlocksThanRanksOrNoGroupMeansEveryRankHoldsAll) {
  Layout g(1, 4);
  ParticleShare p = sf::oss::share_particles(&g, 3 * kParticleBlock, 8);  // 3 blocks, 4 ranks
  EXPECT_FALSE(p.sharded());
  EXPECT_EQ(p.first, 0);
  EXPECT_EQ(p.count, 3 * kParticleBlock);
  EXPECT_EQ(p.shadow, 0);
  ParticleShare alone = sf::oss::share_particles(nullptr, 100, 8);
  EXPECT_FALSE(alone.sharded());
  EXPECT_EQ(alone.count, 100);
}

// Sums over `values` (one per particle) through sum_over_blocks, one process.
double tree_sum(const std::vector<double>& values) {
  ParticleShare all = sf::oss::share_particles(nullptr, static_cast<int64_t>(values.size()), 0);
  at::Tensor v = at::tensor(values, at::kDouble);
  return sf::oss::sum_over_blocks(all, 1, [&](int64_t r0, int64_t rows) { return v.narrow(0, r0, rows).sum(); })
      .item<double>();
}

TEST(ParticleShare, TheSumOverBlocksIsTheDocumentedPairwiseTree) {
  // Four blocks whose sums are 1e16, 1, -1e16, 1 (one non-zero particle each). Pairwise:
  // (1e16 + 1) + (-1e16 + 1) = 1e16 - 1e16 = 0 in float64 (1e16 + 1 rounds to 1e16); block by
  // block from the left it would be ((1e16 + 1) - 1e16) + 1 = 1.
  std::vector<double> v(4 * kParticleBlock, 0.0);
  v[0] = 1e16;
  v[kParticleBlock] = 1;
  v[2 * kParticleBlock] = -1e16;
  v[3 * kParticleBlock] = 1;
  EXPECT_EQ(tree_sum(v), 0.0);
  // Five blocks: the fifth (past the power-of-two half) is added to the first four's tree: 0 + 7.
  v.resize(5 * kParticleBlock, 0.0);
  v[4 * kParticleBlock] = 7;
  EXPECT_EQ(tree_sum(v), 7.0);
  // Ordinary values: the plain sum to rounding, and a short last block counted once.
  std::vector<double> w(300);
  double plain = 0;
  for (size_t i = 0; i < w.size(); ++i) plain += (w[i] = 1.0 / static_cast<double>(i + 1));
  EXPECT_NEAR(tree_sum(w), plain, 1e-13);
}

}  // namespace
