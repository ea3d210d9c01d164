#include "sigmaflow/scheduler/optimal_steps/dp.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "sigmaflow/status.h"

namespace sf::oss {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// One kept student state: x at its grid sigma and the sampler's history along its path.
struct State {
  at::Tensor x;                     // [M, ...] float64
  std::vector<at::Tensor> history;  // most recent first
  std::vector<double> past;         // the sigmas those items were taken at, most recent first
};
using Layer = std::vector<std::optional<State>>;  // indexed by grid point

// The best way found so far into each grid point of the next layer.
struct Best {
  std::vector<double> value;
  std::vector<int64_t> from;
  std::vector<std::vector<double>> coefficients;  // linear samplers
  std::vector<at::Tensor> x;                      // two-evaluation samplers
};

// Predecessors of one target ranked on a few particles (two-evaluation samplers).
struct Ranked {
  std::vector<std::pair<double, int64_t>> by_proxy;
};

ParticleShare resolve(const ParticleShare& given, int64_t local_rows) {
  return given.total > 0 ? given : share_particles(nullptr, local_rows, 0);
}

class Programme {
 public:
  Programme(const Denoiser& denoise, const StepForm& form, const Reference& ref, const DpOptions& opt)
      : denoise_(denoise),
        form_(form),
        ref_(ref),
        opt_(opt),
        share_(resolve(opt.share, ref.x.size(1))),
        K_(static_cast<int64_t>(ref.grid.size()) - 1),
        M_(ref.x.size(1)),
        Mg_(share_.total),
        D_(ref.x[0].numel() / std::max<int64_t>(1, ref.x.size(1))) {}

  DpResult run(const std::atomic<bool>* interrupt, const std::function<void(int64_t, int64_t)>& progress);

 private:
  double sigma(int64_t j) const { return ref_.grid[static_cast<size_t>(j)]; }
  std::vector<at::Tensor> evaluate(const Layer& layer, int64_t n);
  int64_t last_target(const State& s, int64_t i, int64_t n) const;
  at::Tensor basis(const State& s, const at::Tensor& den) const;
  void relax_linear(const State& s, const at::Tensor& den, int64_t i, int64_t n, Best& best) const;
  void relax_linear_by_products(const Layer& layer, const std::vector<at::Tensor>& den, int64_t n, Best& best) const;
  void consider(Best& best, int64_t i, int64_t j, double value, std::vector<double> coefficients) const;
  void rank_two_eval(const Layer& layer, const std::vector<at::Tensor>& den, int64_t n, std::vector<Ranked>& ranked);
  void relax_two_eval(const Layer& layer, const std::vector<at::Tensor>& den, std::vector<Ranked>& ranked, Best& best);
  Layer advance(const Layer& layer, const std::vector<at::Tensor>& den, int64_t n);
  double final_error(const at::Tensor& den) const {
    at::Tensor e2 = owned(den - ref_.final).reshape({share_.count, -1}).pow(2).sum(1);
    at::Tensor sum = sum_over_blocks(share_, 1, [&](int64_t r0, int64_t rows) { return e2.narrow(0, r0, rows).sum(); });
    return std::sqrt(sum.item<double>() / static_cast<double>(Mg_));
  }

  bool sharded() const { return share_.sharded(); }
  // The rows of this process's own particles along `dim` (shadow rows left out).
  at::Tensor owned(const at::Tensor& t, int64_t dim = 0) const { return t.narrow(dim, share_.shadow, share_.count); }
  at::Tensor objective(const at::Tensor& e2) const;
  at::Tensor basis_rows(const State& s, const at::Tensor& den, int64_t row0, int64_t rows) const;

  const Denoiser& denoise_;
  const StepForm& form_;
  const Reference& ref_;
  const DpOptions& opt_;
  const ParticleShare share_;
  const int64_t K_;
  const int64_t M_;   // particles held here (shadow + owned)
  const int64_t Mg_;  // particles over all ranks
  const int64_t D_;
  int64_t nfe_ = 0;
  std::vector<std::vector<int64_t>> from_;  // from_[n][j]: the predecessor of (n, j) in layer n - 1
};

// D at every live state, batched across states; throws naming the sigma of a non-finite output.
std::vector<at::Tensor> Programme::evaluate(const Layer& layer, int64_t n) {
  std::vector<at::Tensor> den(layer.size());
  std::vector<int64_t> live;
  for (int64_t j = 0; j <= K_; ++j)
    if (layer[static_cast<size_t>(j)]) live.push_back(j);
  const int64_t per_chunk = std::max<int64_t>(1, opt_.chunk_elements / std::max<int64_t>(1, Mg_ * D_));
  for (size_t a = 0; a < live.size(); a += static_cast<size_t>(per_chunk)) {
    const size_t b = std::min(live.size(), a + static_cast<size_t>(per_chunk));
    std::vector<at::Tensor> xs;
    std::vector<double> rows;
    for (size_t q = a; q < b; ++q) {
      xs.push_back(layer[static_cast<size_t>(live[q])]->x);
      rows.insert(rows.end(), static_cast<size_t>(M_), sigma(live[q]));
    }
    at::Tensor out = denoise_(at::cat(xs, 0), NoiseLevels(std::move(rows)));
    nfe_ += static_cast<int64_t>(b - a) * share_.count;
    for (size_t q = a; q < b; ++q) {
      at::Tensor d = out.narrow(0, static_cast<int64_t>(q - a) * M_, M_);
      if (!d.isfinite().all().item<bool>())
        throw InputError("model", "",
                         "the model returned NaN or Inf at sigma = " + std::to_string(sigma(live[q])) +
                             " (optimal-steps DP, step " + std::to_string(n + 1) + ")");
      den[static_cast<size_t>(live[q])] = d;
    }
  }
  return den;
}

// [J, owned] per-particle squared errors -> [J] values compared between predecessors (CPU): the
// mean over all particles as a tree sum over blocks, or the trimmed mean (all but the largest
// trim_fraction of them, gathered from every rank).
at::Tensor Programme::objective(const at::Tensor& e2) const {
  if (opt_.objective == Objective::kTrimmed) {
    const int64_t keep = std::max<int64_t>(1, Mg_ - static_cast<int64_t>(std::floor(opt_.trim_fraction * Mg_)));
    at::Tensor all = all_particles(share_, e2);
    return std::get<0>(all.topk(keep, 1, /*largest=*/false, /*sorted=*/false)).mean(1).cpu().contiguous();
  }
  return sum_over_blocks(share_, e2.size(0), [&](int64_t r0, int64_t rows) { return e2.narrow(1, r0, rows).sum(1); }) /
         static_cast<double>(Mg_);
}

// The last grid point a step from (n, i) may reach: the end (sigma_min) always; the multistep
// ratio bound h_next <= ratio * h_prev in log sigma.
int64_t Programme::last_target(const State& s, int64_t i, int64_t n) const {
  (void)n;
  if (!form_.multistep() || s.past.empty() || opt_.ratio_bound <= 0) return K_;
  const double h_max = opt_.ratio_bound * std::log(s.past[0] / sigma(i)) * (1 + 1e-12);
  int64_t j = i + 1;
  while (j + 1 <= K_ && std::log(sigma(i) / sigma(j + 1)) <= h_max) ++j;
  return j;
}

// [B, M * D]: the state's vectors the linear step combines (x, D, history).
at::Tensor Programme::basis(const State& s, const at::Tensor& den) const {
  std::vector<at::Tensor> v = {s.x.reshape({1, -1}), den.reshape({1, -1})};
  for (const auto& h : s.history) v.push_back(h.reshape({1, -1}));
  return at::cat(v, 0);
}

// basis() over owned rows [row0, row0 + rows) only.
at::Tensor Programme::basis_rows(const State& s, const at::Tensor& den, int64_t row0, int64_t rows) const {
  auto part = [&](const at::Tensor& t) { return t.narrow(0, share_.shadow + row0, rows).reshape({1, -1}); };
  std::vector<at::Tensor> v = {part(s.x), part(den)};
  for (const auto& h : s.history) v.push_back(part(h));
  return at::cat(v, 0);
}

void Programme::relax_linear(const State& s, const at::Tensor& den, int64_t i, int64_t n, Best& best) const {
  const int64_t hi = last_target(s, i, n), lo = n + 2 == opt_.max_steps ? K_ : i + 1;
  if (lo > hi) return;
  at::Tensor v = basis(s, den);
  const int64_t per_chunk = std::max<int64_t>(1, opt_.chunk_elements / std::max<int64_t>(1, Mg_ * D_));
  for (int64_t j0 = lo; j0 <= hi; j0 += per_chunk) {
    const int64_t J = std::min(per_chunk, hi - j0 + 1);
    std::vector<std::vector<double>> rows;
    std::vector<double> flat;
    for (int64_t j = j0; j < j0 + J; ++j) {
      rows.push_back(form_.coefficients(sigma(i), sigma(j), s.past));
      flat.insert(flat.end(), rows.back().begin(), rows.back().end());
    }
    at::Tensor c = at::tensor(flat, at::kDouble).reshape({J, v.size(0)}).to(v.device());
    at::Tensor diff = c.mm(v) - ref_.x.narrow(0, j0, J).reshape({J, -1});
    at::Tensor e2 = owned(diff.reshape({J, M_, -1}).pow(2).sum(2), 1);  // [J, owned]
    at::Tensor val = objective(e2).contiguous();
    const double* p = val.data_ptr<double>();
    for (int64_t q = 0; q < J; ++q) consider(best, i, j0 + q, p[q], rows[static_cast<size_t>(q)]);
  }
}

void Programme::consider(Best& best, int64_t i, int64_t j, double value, std::vector<double> coefficients) const {
  const size_t t = static_cast<size_t>(j);
  if (value < best.value[t]) {
    best.value[t] = value;
    best.from[t] = i;
    best.coefficients[t] = std::move(coefficients);
  }
}

// The mean-square objective for linear samplers without forming any candidate state: with the
// basis V_i of a state and the reference R_j, sum_m ||c V_i - R_j||^2 = c' (V_i V_i') c -
// 2 c' (V_i R_j) + ||R_j||^2, so one matrix product per group of states gives every step's error
// (O(states x basis x targets x M x dims) in BLAS instead of elementwise passes).
void Programme::relax_linear_by_products(const Layer& layer, const std::vector<at::Tensor>& den, int64_t n,
                                         Best& best) const {
  const int64_t G = K_ + 1;
  at::Tensor R = owned(ref_.x, 1);  // [G, owned, ...]
  std::vector<int64_t> live;
  for (int64_t i = 0; i < K_; ++i)
    if (layer[static_cast<size_t>(i)]) live.push_back(i);
  if (live.empty()) return;
  const int64_t B = 2 + static_cast<int64_t>(layer[static_cast<size_t>(live[0])]->history.size());
  const int64_t per_chunk = std::max<int64_t>(1, opt_.chunk_elements / std::max<int64_t>(1, B * Mg_ * D_));
  struct Step {
    int64_t q, i, j;
    std::vector<double> c;
  };
  for (size_t a = 0; a < live.size(); a += static_cast<size_t>(per_chunk)) {
    const size_t b = std::min(live.size(), a + static_cast<size_t>(per_chunk));
    const int64_t S = static_cast<int64_t>(b - a);
    std::vector<Step> steps;
    for (int64_t q = 0; q < S; ++q) {
      const int64_t i = live[a + static_cast<size_t>(q)];
      const State& s = *layer[static_cast<size_t>(i)];
      const int64_t hi = last_target(s, i, n), lo = n + 2 == opt_.max_steps ? K_ : i + 1;
      for (int64_t j = lo; j <= hi; ++j) steps.push_back({q, i, j, form_.coefficients(sigma(i), sigma(j), s.past)});
    }
    // Per block of particles: every step's sum of squared errors, from V R' [S * B, G], V V' per
    // state [S, B, B] and ||R_j||^2 of that block's rows.
    at::Tensor sums = sum_over_blocks(share_, static_cast<int64_t>(steps.size()), [&](int64_t r0, int64_t rows) {
      std::vector<at::Tensor> bases;
      for (size_t q = a; q < b; ++q)
        bases.push_back(basis_rows(*layer[static_cast<size_t>(live[q])], den[static_cast<size_t>(live[q])], r0, rows));
      at::Tensor V = at::cat(bases, 0), Rb = R.narrow(1, r0, rows).reshape({G, -1});
      at::Tensor v3 = V.reshape({S, B, -1});
      at::Tensor vr = V.mm(Rb.t()).cpu().contiguous(), vv = at::bmm(v3, v3.transpose(1, 2)).cpu().contiguous();
      at::Tensor rn = Rb.pow(2).sum(1).cpu().contiguous();
      const double *pr = vr.data_ptr<double>(), *pv = vv.data_ptr<double>(), *pn = rn.data_ptr<double>();
      at::Tensor out = at::empty({static_cast<int64_t>(steps.size())}, at::kDouble);
      double* e = out.data_ptr<double>();
      for (const Step& st : steps) {
        double v = pn[st.j];
        for (int64_t u = 0; u < B; ++u) {
          v -= 2 * st.c[static_cast<size_t>(u)] * pr[(st.q * B + u) * G + st.j];
          for (int64_t w = 0; w < B; ++w)
            v += st.c[static_cast<size_t>(u)] * st.c[static_cast<size_t>(w)] * pv[(st.q * B + u) * B + w];
        }
        *e++ = v;
      }
      return out;
    });
    const double* e = sums.data_ptr<double>();
    for (Step& st : steps) consider(best, st.i, st.j, std::max(*e++, 0.0) / static_cast<double>(Mg_), std::move(st.c));
  }
}

// A [J, 1, ..., 1] tensor of per-target sigmas, broadcastable against [J, M, ...].
at::Tensor per_target(const std::vector<double>& values, int64_t trailing_dims, const at::Tensor& like) {
  std::vector<int64_t> shape{static_cast<int64_t>(values.size())};
  shape.insert(shape.end(), static_cast<size_t>(trailing_dims), 1);
  return at::tensor(values, at::kDouble).reshape(shape).to(like.device());
}

// Two-evaluation samplers, first pass: every predecessor of every target scored exactly on the
// first rank_particles particles, to choose which to evaluate on all. The probes of all states
// of the layer share model calls (one per chunk of chunk_elements).
void Programme::rank_two_eval(const Layer& layer, const std::vector<at::Tensor>& den, int64_t n,
                              std::vector<Ranked>& ranked) {
  struct Block {
    int64_t i, lo, J;
    at::Tensor x, d, probe, tj, tp;
    std::vector<double> rows;
  };
  const int64_t m = std::min(opt_.rank_particles, Mg_);  // rows 0 .. m - 1 here: the first m particles
  if (opt_.exact_candidates <= 0) {                      // every predecessor is evaluated exactly anyway
    for (int64_t i = 0; i < K_; ++i) {
      const int64_t lo = n + 2 == opt_.max_steps ? K_ : i + 1;
      if (layer[static_cast<size_t>(i)] && lo <= K_)
        for (int64_t j = lo; j <= K_; ++j) ranked[static_cast<size_t>(j)].by_proxy.emplace_back(0.0, i);
    }
    return;
  }
  // Under torchrun, state i is ranked by rank i mod world size; the (value, i, j) triples are
  // gathered, and the ranking sorts them, so it does not depend on who computed what.
  const int world = sharded() ? share_.group->world_size() : 1, me = sharded() ? share_.group->rank() : 0;
  std::vector<double> triples;
  std::vector<Block> pending;
  int64_t pending_elements = 0;
  auto flush = [&] {
    if (pending.empty()) return;
    std::vector<at::Tensor> probes;
    std::vector<double> rows;
    for (auto& b : pending) {
      probes.push_back(b.probe.reshape({b.J * m, -1}));
      rows.insert(rows.end(), b.rows.begin(), b.rows.end());
    }
    at::Tensor flat = at::cat(probes, 0);
    std::vector<int64_t> shape = pending[0].x.sizes().vec();
    shape[0] = flat.size(0);
    at::Tensor d2_all = denoise_(flat.reshape(shape), NoiseLevels(std::move(rows)));
    nfe_ += flat.size(0);
    int64_t offset = 0;
    for (auto& b : pending) {
      at::Tensor d2 = d2_all.narrow(0, offset, b.J * m).reshape(b.probe.sizes());
      offset += b.J * m;
      if (!d2.isfinite().all().item<bool>())
        throw InputError("model", "",
                         "the model returned NaN or Inf at a " + opt_.sampler_name + " probe from sigma = " +
                             std::to_string(sigma(b.i)) + " (optimal-steps DP, step " + std::to_string(n + 1) + ")");
      at::Tensor cand = form_.finish(b.x, b.d, sigma(b.i), b.probe, d2, b.tj, b.tp);
      at::Tensor e2 = (cand - ref_.x.narrow(0, b.lo, b.J).narrow(1, 0, m)).reshape({b.J, m, -1}).pow(2).sum(2);
      at::Tensor val = e2.mean(1).cpu().contiguous();
      for (int64_t q = 0; q < b.J; ++q)
        triples.insert(triples.end(),
                       {val.data_ptr<double>()[q], static_cast<double>(b.i), static_cast<double>(b.lo + q)});
    }
    pending.clear();
    pending_elements = 0;
  };
  for (int64_t i = 0; i < K_; ++i) {
    const auto& s = layer[static_cast<size_t>(i)];
    const int64_t lo = n + 2 == opt_.max_steps ? K_ : i + 1;
    if (!s || lo > K_ || i % world != me) continue;
    Block b{i, lo, K_ - lo + 1, s->x.narrow(0, 0, m), den[static_cast<size_t>(i)].narrow(0, 0, m), {}, {}, {}, {}};
    std::vector<double> sj, sp;
    for (int64_t j = lo; j <= K_; ++j) {
      sj.push_back(sigma(j));
      sp.push_back(form_.probe_sigma(sigma(i), sigma(j)));
      b.rows.insert(b.rows.end(), static_cast<size_t>(m), sp.back());
    }
    b.tj = per_target(sj, s->x.dim(), b.x);
    b.tp = per_target(sp, s->x.dim(), b.x);
    b.probe = b.x.unsqueeze(0) + (b.tp - sigma(i)) * ((b.x - b.d) / sigma(i)).unsqueeze(0);
    const int64_t elements = b.J * m * D_;
    if (pending_elements + elements > opt_.chunk_elements) flush();
    pending_elements += elements;
    pending.push_back(std::move(b));
  }
  flush();
  at::Tensor all = at::tensor(triples, at::kDouble).reshape({-1, 3});
  if (sharded()) all = share_.group->all_gather_rows(all);
  const double* t = all.data_ptr<double>();
  for (int64_t r = 0; r < all.size(0); ++r)
    ranked[static_cast<size_t>(t[3 * r + 2])].by_proxy.emplace_back(t[3 * r], static_cast<int64_t>(t[3 * r + 1]));
}

// Two-evaluation samplers, second pass: the best `exact_candidates` predecessors of each target
// by the proxy, evaluated exactly (one model call per particle each), batched across targets.
void Programme::relax_two_eval(const Layer& layer, const std::vector<at::Tensor>& den, std::vector<Ranked>& ranked,
                               Best& best) {
  std::vector<std::pair<int64_t, int64_t>> pairs;  // (target, predecessor)
  for (int64_t j = 0; j <= K_; ++j) {
    auto& r = ranked[static_cast<size_t>(j)].by_proxy;
    std::sort(r.begin(), r.end());
    const size_t take =
        opt_.exact_candidates > 0 ? std::min(r.size(), static_cast<size_t>(opt_.exact_candidates)) : r.size();
    for (size_t q = 0; q < take; ++q) pairs.emplace_back(j, r[q].second);
  }
  const int64_t per_chunk = std::max<int64_t>(1, opt_.chunk_elements / std::max<int64_t>(1, Mg_ * D_));
  for (size_t a = 0; a < pairs.size(); a += static_cast<size_t>(per_chunk)) {
    const size_t b = std::min(pairs.size(), a + static_cast<size_t>(per_chunk));
    std::vector<at::Tensor> probes;
    std::vector<double> rows;
    for (size_t q = a; q < b; ++q) {
      const auto [j, i] = pairs[q];
      const State& s = *layer[static_cast<size_t>(i)];
      const double sp = form_.probe_sigma(sigma(i), sigma(j));
      probes.push_back(s.x + (s.x - den[static_cast<size_t>(i)]) * ((sp - sigma(i)) / sigma(i)));
      rows.insert(rows.end(), static_cast<size_t>(M_), sp);
    }
    at::Tensor out = denoise_(at::cat(probes, 0), NoiseLevels(rows));
    nfe_ += static_cast<int64_t>(b - a) * share_.count;
    std::vector<at::Tensor> cands, e2;
    for (size_t q = a; q < b; ++q) {
      const auto [j, i] = pairs[q];
      const State& s = *layer[static_cast<size_t>(i)];
      at::Tensor d2 = out.narrow(0, static_cast<int64_t>(q - a) * M_, M_);
      const double sp = rows[(q - a) * static_cast<size_t>(M_)];
      if (!d2.isfinite().all().item<bool>())
        throw InputError("model", "",
                         "the model returned NaN or Inf at sigma = " + std::to_string(sp) + " (optimal-steps DP, " +
                             opt_.sampler_name + " probe)");
      cands.push_back(form_.finish(s.x, den[static_cast<size_t>(i)], sigma(i), probes[q - a], d2,
                                   at::scalar_tensor(sigma(j), at::kDouble), at::scalar_tensor(sp, at::kDouble)));
      e2.push_back(owned(cands.back() - ref_.x[j]).reshape({1, share_.count, -1}).pow(2).sum(2));
    }
    at::Tensor values = objective(at::cat(e2, 0)).contiguous();
    for (size_t q = a; q < b; ++q) {
      const auto [j, i] = pairs[q];
      const double v = values.data_ptr<double>()[q - a];
      if (v < best.value[static_cast<size_t>(j)]) {
        best.value[static_cast<size_t>(j)] = v;
        best.from[static_cast<size_t>(j)] = i;
        best.x[static_cast<size_t>(j)] = cands[q - a];
      }
    }
  }
}

// Layer n + 1 from layer n: every allowed step scored, the best kept per grid point.
Layer Programme::advance(const Layer& layer, const std::vector<at::Tensor>& den, int64_t n) {
  const size_t G = static_cast<size_t>(K_ + 1);
  Best best{std::vector<double>(G, kInf), std::vector<int64_t>(G, -1), std::vector<std::vector<double>>(G),
            std::vector<at::Tensor>(G)};
  std::vector<Ranked> ranked(G);
  if (form_.two_evaluations()) {
    rank_two_eval(layer, den, n, ranked);
    relax_two_eval(layer, den, ranked, best);
  } else if (opt_.objective == Objective::kMeanSquare) {
    relax_linear_by_products(layer, den, n, best);
  } else {
    for (int64_t i = 0; i < K_; ++i)
      if (const auto& s = layer[static_cast<size_t>(i)]) relax_linear(*s, den[static_cast<size_t>(i)], i, n, best);
  }
  Layer next(G);
  from_[static_cast<size_t>(n + 1)] = best.from;
  for (size_t j = 0; j < G; ++j) {
    if (best.from[j] < 0) continue;
    const size_t i = static_cast<size_t>(best.from[j]);
    const State& s = *layer[i];
    State ns;
    if (form_.two_evaluations()) {
      ns.x = best.x[j];
    } else {
      at::Tensor c = at::tensor(best.coefficients[j], at::kDouble).reshape({1, -1}).to(s.x.device());
      ns.x = c.mm(basis(s, den[i])).reshape(s.x.sizes());
    }
    if (form_.history_capacity() > 0) {
      ns.history.push_back(form_.history_item(s.x, den[i], sigma(static_cast<int64_t>(i))));
      ns.past.push_back(sigma(static_cast<int64_t>(i)));
      for (size_t q = 0; q < s.history.size() && ns.history.size() < static_cast<size_t>(form_.history_capacity());
           ++q) {
        ns.history.push_back(s.history[q]);
        ns.past.push_back(s.past[q]);
      }
    }
    next[j] = std::move(ns);
  }
  return next;
}

DpResult Programme::run(const std::atomic<bool>* interrupt, const std::function<void(int64_t, int64_t)>& progress) {
  const int64_t N = opt_.max_steps;
  DpResult r;
  r.schedules.resize(static_cast<size_t>(N));
  r.training_error.assign(static_cast<size_t>(N), std::numeric_limits<double>::quiet_NaN());
  from_.assign(static_cast<size_t>(N), std::vector<int64_t>(static_cast<size_t>(K_ + 1), -1));
  Layer layer(static_cast<size_t>(K_ + 1));
  layer[0] = State{ref_.x[0].clone(), {}, {}};
  for (int64_t n = 0; n < N; ++n) {
    if (interrupt && interrupt->load()) throw Interrupted();
    std::vector<at::Tensor> den = evaluate(layer, n);
    const int64_t end = n == 0 ? 0 : K_;  // one step goes sigma_max -> 0; longer ones end at sigma_min
    if (layer[static_cast<size_t>(end)]) {
      r.training_error[static_cast<size_t>(n)] = final_error(den[static_cast<size_t>(end)]);
      std::vector<double> path{0.0};
      for (int64_t m = n, j = end; m >= 0; j = from_[static_cast<size_t>(m)][static_cast<size_t>(j)], --m)
        path.insert(path.begin(), sigma(j));
      r.schedules[static_cast<size_t>(n)] = path;
    }
    if (n + 1 == N) break;
    layer = advance(layer, den, n);
    if (progress) progress(n + 1, N);
  }
  r.nfe = sharded() ? share_.group->all_reduce_sum(at::full({1}, nfe_, at::kLong)).item<int64_t>() : nfe_;
  return r;
}

}  // namespace

DpResult optimise_steps(const Denoiser& denoise, const StepForm& form, const Reference& reference,
                        const DpOptions& options, const std::atomic<bool>* interrupt,
                        const std::function<void(int64_t, int64_t)>& progress) {
  const int64_t K = static_cast<int64_t>(reference.grid.size()) - 1;
  if (options.max_steps < 1 || options.max_steps - 1 > K)
    throw InputError("max_steps", std::to_string(options.max_steps),
                     "max_steps must be 1 to grid_size + 1 (" + std::to_string(K + 1) +
                         "): N steps take N - 1 distinct grid points after sigma_max");
  Programme p(denoise, form, reference, options);
  return p.run(interrupt, progress);
}

}  // namespace sf::oss
