#include "sigmaflow/scheduler/optimal_steps/selection.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

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
// Mode weights: a candidate that puts 1 % more of the mass in other clusters than the best
// baseline is a distribution loss a reader of samples can see, whatever its trajectory error.
constexpr double kModeWeightMargin = 0.01;
constexpr int64_t kMostClusters = 16;
constexpr int kLloydIterations = 50;

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

// Appends candidate `c`'s outputs (rows x dims, float64) against the reference outputs `target`.
void record(Measurements& m, size_t c, const at::Tensor& out, const at::Tensor& target, const at::Tensor& directions) {
  at::Tensor e2 = (out - target).pow(2).sum(1).cpu().contiguous();
  const double* p = e2.data_ptr<double>();
  m.squared_error[c].insert(m.squared_error[c].end(), p, p + e2.numel());
  append_rows(m.projections[c], out.matmul(directions).cpu());
}

void record_reference(Measurements& m, const at::Tensor& target, const at::Tensor& directions) {
  append_rows(m.projections.back(), target.matmul(directions).cpu());
  m.particles += target.size(0);
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
    record(m, c, out, target, directions);
  }
  record_reference(m, target, directions);
}

// Unit directions for the sliced W2, [dims, projections], from the request's seed.
at::Tensor projection_directions(int64_t dims, const SelectionRequest& rq, c10::Device device) {
  at::Tensor d =
      diffusion::seeded_normal(derived_seed("projections", rq.seed), {dims, rq.projections}, device, at::kDouble);
  return d / d.norm(2, 0, true);
}

// Bootstrap replicates, [candidate][resample], for the rms and the sliced W2; the point
// estimates in `point_*`.
struct Replicates {
  std::vector<std::vector<double>> rms, sliced_w2, mode_tv;
  std::vector<double> point_rms, point_sliced_w2, point_mode_tv;
};

// k-means++ seeding (mt19937_64 draws: the same centres on every machine) and Lloyd's iterations.
at::Tensor cluster_centres(const at::Tensor& points, int64_t k, uint64_t seed) {
  const int64_t n = points.size(0);
  std::mt19937_64 rng(seed);
  auto uniform = [&rng] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
  std::vector<int64_t> picks{static_cast<int64_t>(uniform() * static_cast<double>(n))};
  at::Tensor d2 = (points - points[picks[0]]).pow(2).sum(1);
  while (static_cast<int64_t>(picks.size()) < k) {
    const at::Tensor cumulative = d2.cumsum(0).contiguous();
    const double total = cumulative[n - 1].item<double>();
    if (!(total > 0)) break;  // every point is a centre already
    const double* c = cumulative.data_ptr<double>();
    const int64_t pick = std::min<int64_t>(n - 1, std::upper_bound(c, c + n, uniform() * total) - c);
    picks.push_back(pick);
    d2 = at::minimum(d2, (points - points[pick]).pow(2).sum(1));
  }
  at::Tensor centres = points.index_select(0, at::tensor(picks, at::kLong));
  at::Tensor labels;
  for (int it = 0; it < kLloydIterations; ++it) {
    at::Tensor next = at::cdist(points, centres).argmin(1);
    if (labels.defined() && next.equal(labels)) break;
    labels = next;
    const at::Tensor counts = at::bincount(labels, {}, centres.size(0)).to(at::kDouble).unsqueeze(1);
    const at::Tensor sums = at::zeros_like(centres).index_add_(0, labels, points);
    centres = at::where(counts > 0, sums / counts.clamp_min(1), centres);  // an emptied cluster keeps its centre
  }
  return centres;
}

// Cluster of every output, [candidate][particle] with the reference last: the reference outputs'
// projections are clustered (k-means, up to 16 clusters, one per 16 outputs at most) and every
// output goes to its nearest centre. The clusters stand in for the modes of the model's
// distribution, which the selection does not know.
std::vector<std::vector<int64_t>> cluster_labels(const Measurements& m, uint64_t seed) {
  const at::Tensor& reference = m.projections.back();
  const int64_t k = std::clamp<int64_t>(m.particles / 16, 2, kMostClusters);
  const at::Tensor centres = cluster_centres(reference, k, seed);
  std::vector<std::vector<int64_t>> labels;
  for (const at::Tensor& p : m.projections) {
    const at::Tensor l = at::cdist(p, centres).argmin(1).contiguous();
    labels.emplace_back(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + l.numel());
  }
  return labels;
}

// Total variation between the cluster weights of candidate `c` and of the reference, over the
// particles drawn `count[i]` times.
double mode_weight_tv(const std::vector<std::vector<int64_t>>& labels, size_t c, const std::vector<int64_t>& rows) {
  std::vector<int64_t> balance(static_cast<size_t>(kMostClusters), 0);
  for (int64_t i : rows) {
    balance[static_cast<size_t>(labels[c][static_cast<size_t>(i)])]++;
    balance[static_cast<size_t>(labels.back()[static_cast<size_t>(i)])]--;
  }
  int64_t moved = 0;
  for (int64_t b : balance) moved += std::abs(b);
  return 0.5 * static_cast<double>(moved) / static_cast<double>(rows.size());
}

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
  r.mode_tv.assign(C, std::vector<double>(static_cast<size_t>(resamples)));
  const std::vector<std::vector<int64_t>> labels = cluster_labels(m, seed);
  std::vector<int64_t> all_rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) all_rows[static_cast<size_t>(i)] = i;
  for (size_t c = 0; c < C; ++c) r.point_mode_tv.push_back(mode_weight_tv(labels, c, all_rows));
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
    const std::vector<int64_t> row(idx.begin() + b * n, idx.begin() + (b + 1) * n);
    for (size_t c = 0; c < C; ++c) {
      double s = 0;
      for (int64_t i : row) s += m.squared_error[c][static_cast<size_t>(i)];
      r.rms[c][static_cast<size_t>(b)] = std::sqrt(s / static_cast<double>(n));
      r.mode_tv[c][static_cast<size_t>(b)] = mode_weight_tv(labels, c, row);
    }
    std::vector<double> w = sliced_w2_of(std::get<0>(all.index_select(1, idx_t[b]).sort(1)));
    for (size_t c = 0; c < C; ++c) r.sliced_w2[c][static_cast<size_t>(b)] = w[c];
  }
  return r;
}

bool significantly_above(const std::vector<double>& a, const std::vector<double>& b) {
  return percentile_interval(diffusion::paired_replicates(a, b, false)).lo > 0;
}

// Why candidate `c` is a distribution loss against the baselines' best figures (`sw_best`,
// `tv_best`: indices of the baselines with the lowest sliced W2 and mode-weight TV), or "": a loss
// must be material (the margins) and significant (the paired 95 % interval of the difference
// excludes 0).
std::string distribution_loss(const Replicates& r, size_t c, size_t sw_best, size_t tv_best,
                              const std::vector<CandidateSchedule>& candidates) {
  if (r.point_sliced_w2[c] > kDistributionMargin * r.point_sliced_w2[sw_best] &&
      significantly_above(r.sliced_w2[c], r.sliced_w2[sw_best]))
    return "sliced W2 " + fixed(r.point_sliced_w2[c]) + ", over 1.2x " + candidates[sw_best].label + "'s " +
           fixed(r.point_sliced_w2[sw_best]) + " and beyond its interval";
  if (r.point_mode_tv[c] > r.point_mode_tv[tv_best] + kModeWeightMargin &&
      significantly_above(r.mode_tv[c], r.mode_tv[tv_best]))
    return "mode weights " + fixed(r.point_mode_tv[c]) + " from the reference's, over " + candidates[tv_best].label +
           "'s " + fixed(r.point_mode_tv[tv_best]) + " + 0.01 and beyond its interval";
  return "";
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
  // The baselines' best distribution figures, which no other candidate may be materially worse than.
  size_t sw_best = C, tv_best = C;
  for (size_t c = 0; c < C; ++c) {
    if (!candidates[c].baseline) continue;
    if (sw_best == C || r.point_sliced_w2[c] < r.point_sliced_w2[sw_best]) sw_best = c;
    if (tv_best == C || r.point_mode_tv[c] < r.point_mode_tv[tv_best]) tv_best = c;
  }
  for (size_t c = 0; c < C; ++c) {
    CandidateScore& sc = s.scores[c];
    sc.label = candidates[c].label;
    sc.sigmas = candidates[c].sigmas;
    sc.rms = r.point_rms[c];
    sc.rms_interval = percentile_interval(r.rms[c]);
    sc.sliced_w2 = r.point_sliced_w2[c];
    sc.sliced_w2_interval = percentile_interval(r.sliced_w2[c]);
    sc.mode_tv = r.point_mode_tv[c];
    sc.mode_tv_interval = percentile_interval(r.mode_tv[c]);
    if (!candidates[c].baseline && sw_best < C) sc.not_eligible = distribution_loss(r, c, sw_best, tv_best, candidates);
    sc.eligible = sc.not_eligible.empty();
  }
  size_t k = C;  // a baseline is eligible by construction, and without baselines every candidate is
  for (size_t c = 0; c < C; ++c)
    if (s.scores[c].eligible && (k == C || s.scores[c].rms < s.scores[k].rms)) k = c;
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
    if (!sc.eligible) text += " (" + sc.not_eligible + ": not eligible)";
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
  const at::Tensor directions = projection_directions(dims, rq, model.device());
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

Selection select_from_outputs(const std::vector<CandidateSchedule>& candidates, const std::vector<at::Tensor>& outputs,
                              const at::Tensor& reference, const SelectionRequest& rq) {
  if (candidates.empty() || outputs.size() != candidates.size())
    throw std::invalid_argument("select_from_outputs: one output per candidate, at least one");
  const int64_t rows = reference.size(0);
  const at::Tensor target = reference.to(at::kDouble).reshape({rows, -1});
  const at::Tensor directions = projection_directions(target.size(1), rq, reference.device());
  Measurements m;
  m.squared_error.resize(candidates.size());
  m.projections.resize(candidates.size() + 1);
  for (size_t c = 0; c < candidates.size(); ++c)
    record(m, c, outputs[c].to(at::kDouble).reshape({rows, -1}), target, directions);
  record_reference(m, target, directions);
  bool tied = false;
  Selection s = choose(candidates, m, rq.resamples, derived_seed("bootstrap", rq.seed), tied);
  s.summary = summary_of(s, rows);
  return s;
}

}  // namespace sf::oss
