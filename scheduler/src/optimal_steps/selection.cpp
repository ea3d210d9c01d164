#include "sigmaflow/scheduler/optimal_steps/selection.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "sigmaflow/diffusion/fingerprint.h"
#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/files.h"
#include "sigmaflow/scheduler/optimal_steps/reference.h"
#include "sigmaflow/status.h"

namespace sf::oss {

namespace {

constexpr int64_t kFirstAutomaticSize = 256;
constexpr int64_t kSmallestSize = 16;
// A distance within 20 % of the best one's is no reason to drop a candidate: sliced W2 over a few
// hundred paired outputs resolves differences far below what a reader of samples would notice.
constexpr double kDistributionMargin = 1.2;

uint64_t derived_seed(const char* stream, uint64_t seed) {
  return diffusion::fnv1a(std::string("optimal_steps ") + stream + "|" + std::to_string(seed));
}

std::string fixed(double v) { return number_text(v, 4); }

std::string interval_text(const Interval& i) { return "[" + fixed(i.lo) + ", " + fixed(i.hi) + "]"; }

// What every candidate produced on the held-out noises so far.
struct Measurements {
  std::vector<std::vector<double>> squared_error;  // [candidate][particle]
  std::vector<at::Tensor> projections;             // [candidate]: [particles, P]; the reference's last
  int64_t particles = 0;
};

void append_rows(at::Tensor& to, const at::Tensor& rows) { to = to.defined() ? at::cat({to, rows}, 0) : rows; }

// The converged outputs for `noise`, integrated in blocks that bound the stored path.
at::Tensor integrate_outputs(const Model& model, const SelectionRequest& rq, const at::Tensor& noise, int64_t& nfe) {
  const int64_t rows = noise.size(0);
  const int64_t dims = noise.numel() / std::max<int64_t>(1, rows);
  const int64_t per_particle = static_cast<int64_t>(rq.grid.size()) * dims;
  const int64_t block = std::max<int64_t>(1, rq.chunk_elements / std::max<int64_t>(1, per_particle));
  Denoiser denoise = [&model](const at::Tensor& x, const NoiseLevels& s) {
    return model.denoise(x.to(model.dtype()), s).to(at::kDouble);
  };
  std::vector<at::Tensor> parts;
  for (int64_t first = 0; first < rows; first += block) {
    // Only the reference's end is kept; the path is dropped with the block.
    Reference ref = integrate_reference(denoise, rq.grid, noise.narrow(0, first, std::min(block, rows - first)),
                                        rq.substeps, rq.interrupt);
    nfe += ref.nfe;
    parts.push_back(ref.final);
  }
  return at::cat(parts, 0);
}

// Runs every candidate from `noise` and appends what they produced; `reference` holds the
// converged outputs for the same noises.
void measure_block(const Model& model, const Sampler& sampler, const std::vector<CandidateSchedule>& candidates,
                   const SelectionRequest& rq, const at::Tensor& noise, const at::Tensor& reference,
                   const at::Tensor& directions, Measurements& m, int64_t& nfe) {
  const int64_t rows = noise.size(0);
  const int64_t dims = noise.numel() / std::max<int64_t>(1, rows);
  const at::Tensor target = reference.to(noise.device(), at::kDouble).reshape({rows, dims});
  for (size_t c = 0; c < candidates.size(); ++c) {
    const auto& sigmas = candidates[c].sigmas;
    SampleContext ctx;
    ctx.interrupt = rq.interrupt;
    at::Tensor x = (noise * sigmas.front()).to(model.dtype());
    at::Tensor out = sampler.sample(model, x, sigmas, ctx).to(at::kDouble).reshape({rows, dims});
    nfe += ctx.nfe * rows;  // ctx.nfe counts batched calls; the plan counts per particle
    at::Tensor e2 = (out - target).pow(2).sum(1).cpu().contiguous();
    const double* p = e2.data_ptr<double>();
    m.squared_error[c].insert(m.squared_error[c].end(), p, p + rows);
    append_rows(m.projections[c], out.matmul(directions).cpu());
  }
  append_rows(m.projections.back(), target.matmul(directions).cpu());
  m.particles += rows;
}

// Bootstrap replicates, [candidate][resample], for the rms and the sliced W2; the point
// estimates in `point_*`.
struct Replicates {
  std::vector<std::vector<double>> rms, sliced_w2;
  std::vector<double> point_rms, point_sliced_w2;
};

std::vector<double> sliced_w2_of(const at::Tensor& sorted) {  // sorted: [C + 1, n, P], the reference last
  const int64_t C = sorted.size(0) - 1;
  at::Tensor d = sorted.narrow(0, 0, C) - sorted.narrow(0, C, 1);
  at::Tensor w = d.pow(2).mean({1, 2}).sqrt().contiguous();
  return std::vector<double>(w.data_ptr<double>(), w.data_ptr<double>() + C);
}

Replicates replicate(const Measurements& m, int64_t resamples, uint64_t seed) {
  const size_t C = m.squared_error.size();
  const int64_t n = m.particles;
  Replicates r;
  r.rms.assign(C, std::vector<double>(static_cast<size_t>(resamples)));
  r.sliced_w2.assign(C, std::vector<double>(static_cast<size_t>(resamples)));
  for (const auto& e : m.squared_error) {
    double s = 0;
    for (double v : e) s += v;
    r.point_rms.push_back(std::sqrt(s / static_cast<double>(n)));
  }
  at::Tensor all = at::stack(m.projections, 0);  // [C + 1, n, P]
  r.point_sliced_w2 = sliced_w2_of(std::get<0>(all.sort(1)));
  const std::vector<int64_t> idx = bootstrap_indices(n, resamples, seed);
  at::Tensor idx_t = at::tensor(idx, at::kLong).reshape({resamples, n});
  for (int64_t b = 0; b < resamples; ++b) {
    const int64_t* row = idx.data() + b * n;
    for (size_t c = 0; c < C; ++c) {
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += m.squared_error[c][static_cast<size_t>(row[i])];
      r.rms[c][static_cast<size_t>(b)] = std::sqrt(s / static_cast<double>(n));
    }
    std::vector<double> w = sliced_w2_of(std::get<0>(all.index_select(1, idx_t[b]).sort(1)));
    for (size_t c = 0; c < C; ++c) r.sliced_w2[c][static_cast<size_t>(b)] = w[c];
  }
  return r;
}

// Scores and the choice for the measurements so far. `runner_up_tied`: the best other eligible
// candidate's ratio interval contains 1.
Selection choose(const std::vector<CandidateSchedule>& candidates, const Measurements& m, int64_t resamples,
                 uint64_t seed, bool& runner_up_tied) {
  const size_t C = candidates.size();
  Replicates r = replicate(m, resamples, seed);
  Selection s;
  s.held_out = m.particles;
  s.resamples = resamples;
  s.scores.resize(C);
  size_t best_w = 0;
  for (size_t c = 1; c < C; ++c)
    if (r.point_sliced_w2[c] < r.point_sliced_w2[best_w]) best_w = c;
  for (size_t c = 0; c < C; ++c) {
    CandidateScore& sc = s.scores[c];
    sc.label = candidates[c].label;
    sc.sigmas = candidates[c].sigmas;
    sc.rms = r.point_rms[c];
    sc.rms_interval = percentile_interval(r.rms[c]);
    sc.sliced_w2 = r.point_sliced_w2[c];
    sc.sliced_w2_interval = percentile_interval(r.sliced_w2[c]);
    // Ineligible: materially (kDistributionMargin) and significantly (the paired interval of the
    // difference excludes 0) worse in distribution than the best.
    sc.eligible =
        c == best_w || sc.sliced_w2 <= kDistributionMargin * r.point_sliced_w2[best_w] ||
        !(percentile_interval(diffusion::paired_replicates(r.sliced_w2[c], r.sliced_w2[best_w], false)).lo > 0);
  }
  size_t k = best_w;  // eligible by construction
  for (size_t c = 0; c < C; ++c)
    if (s.scores[c].eligible && s.scores[c].rms < s.scores[k].rms) k = c;
  s.chosen = k;
  runner_up_tied = false;
  for (size_t c = 0; c < C; ++c) {
    CandidateScore& sc = s.scores[c];
    sc.ratio = sc.rms / s.scores[k].rms;
    sc.ratio_interval =
        c == k ? Interval{1.0, 1.0} : percentile_interval(diffusion::paired_replicates(r.rms[c], r.rms[k], true));
    if (c != k && sc.eligible && sc.ratio_interval.lo <= 1.0) runner_up_tied = true;
  }
  return s;
}

std::string summary_of(const Selection& s, int64_t first_size) {
  const CandidateScore& k = s.scores[s.chosen];
  std::string text = (s.chosen == 0 ? "kept " : "returned ") + k.label +
                     (s.chosen == 0 ? "" : " instead of " + s.scores[0].label) + ": held-out RMS " + fixed(k.rms) +
                     " " + interval_text(k.rms_interval) + " on " + std::to_string(s.held_out) + " noises";
  if (s.held_out > first_size) text += " (grown from " + std::to_string(first_size) + ": the choice was within noise)";
  for (size_t c = 0; c < s.scores.size(); ++c) {
    if (c == s.chosen) continue;
    const CandidateScore& sc = s.scores[c];
    text += "; " + sc.label + " x" + fixed(sc.ratio) + " " + interval_text(sc.ratio_interval);
    if (!sc.eligible)
      text += " (sliced W2 " + fixed(sc.sliced_w2) + ", over 1.2x the best's and beyond its interval: not eligible)";
  }
  return text;
}

}  // namespace

static at::Tensor held_out_noises(const Model& model, const SelectionRequest& rq, int64_t count) {
  return diffusion::seeded_normal(derived_seed("held-out", rq.seed),
                                  diffusion::batch_shape(count, model.sample_shape()), model.device(), at::kDouble);
}

Selection select_on_held_out(const Model& model, const Sampler& sampler,
                             const std::vector<CandidateSchedule>& candidates, const SelectionRequest& rq) {
  if (rq.held_out != -1 && rq.held_out < kSmallestSize)
    throw InputError("held_out_noises", std::to_string(rq.held_out),
                     "held_out_noises must be -1 (automatic) or at least " + std::to_string(kSmallestSize) +
                         ": fewer noises give no usable interval");
  if (candidates.empty()) throw InputError("candidates", "", "held-out selection needs at least one candidate");
  const bool automatic = rq.held_out == -1;
  const int64_t most = automatic ? std::max(kSmallestSize, rq.max_held_out) : rq.held_out;
  const int64_t first = automatic ? std::min(kFirstAutomaticSize, most) : most;
  const at::Tensor noise = held_out_noises(model, rq, most);
  const int64_t dims = noise.numel() / most;
  at::Tensor directions = diffusion::seeded_normal(derived_seed("projections", rq.seed), {dims, rq.projections},
                                                   model.device(), at::kDouble);
  directions = directions / directions.norm(2, 0, true);
  int64_t nfe = 0;
  // The reference is integrated only for the noises measured: a set that grows extends it (the
  // noises are one stream, so a longer set starts with the shorter one).
  at::Tensor reference =
      rq.reference.defined() ? rq.reference.narrow(0, 0, std::min(rq.reference.size(0), most)) : at::Tensor();
  auto reference_for = [&](int64_t rows) {
    const int64_t have = reference.defined() ? reference.size(0) : 0;
    if (have >= rows) return;
    if (rq.info)
      rq.info("optimal_steps held-out selection: integrating the reference for held-out noises " +
              std::to_string(have + 1) + " to " + std::to_string(rows) + " (once per plan)");
    at::Tensor more = integrate_outputs(model, rq, noise.narrow(0, have, rows - have), nfe);
    reference = have > 0 ? at::cat({reference, more.to(reference.device())}, 0) : more;
  };
  // Sampler runs in blocks of particles (the states of every candidate are small next to the
  // reference's path, but an image model's batch must stay bounded too).
  const int64_t block = std::max<int64_t>(1, rq.chunk_elements / std::max<int64_t>(1, 8 * dims));

  Measurements m;
  m.squared_error.resize(candidates.size());
  m.projections.resize(candidates.size() + 1);
  int64_t target = first;
  for (;;) {
    reference_for(target);
    while (m.particles < target) {
      const int64_t rows = std::min(block, target - m.particles);
      measure_block(model, sampler, candidates, rq, noise.narrow(0, m.particles, rows),
                    reference.narrow(0, m.particles, rows), directions, m, nfe);
    }
    bool tied = false;
    Selection s = choose(candidates, m, rq.resamples, derived_seed("bootstrap", rq.seed), tied);
    if (automatic && tied && m.particles < most) {
      target = std::min(most, 2 * m.particles);
      if (rq.info)
        rq.info("optimal_steps held-out selection: the best two candidates are within noise on " +
                std::to_string(m.particles) + " noises; measuring " + std::to_string(target));
      continue;
    }
    s.nfe = nfe;
    s.summary = summary_of(s, first);
    s.reference = reference;
    return s;
  }
}

}  // namespace sf::oss
