#include "sigmaflow/scheduler/optimal_steps/particle_share.h"

#include <ATen/ATen.h>

namespace sf::oss {

ParticleShare share_particles(const Collectives* group, int64_t total, int64_t ranking) {
  ParticleShare p;
  static_cast<diffusion::BlockShare&>(p) = diffusion::share_blocks(group, total, kParticleBlock);
  p.shadow = p.sharded() && ranking > 0 && !(p.first == 0 && p.count >= ranking) ? ranking : 0;
  return p;
}

at::Tensor sum_over_blocks(const ParticleShare& share, int64_t width,
                           const std::function<at::Tensor(int64_t, int64_t)>& partial) {
  return diffusion::block_tree_sum(
      share, width, [&](int64_t begin, int64_t end) { return partial(begin - share.first, end - begin); });
}

at::Tensor all_particles(const ParticleShare& share, const at::Tensor& per_particle) {
  if (!share.sharded()) return per_particle.contiguous();
  at::Tensor rows = share.group->all_gather_rows(per_particle.t().contiguous().to(at::kCPU));
  return rows.t().contiguous().to(per_particle.device());
}

}  // namespace sf::oss
