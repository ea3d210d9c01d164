// Sigma list tools: split, flip, set first, manual lists, log-linear resampling.
#include <ATen/ATen.h>

#include <cmath>

#include "../common/text.h"
#include "nodes.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/number_list.h"
#include "sigmaflow/ports.h"
#include "sigmaflow/scheduler/stock.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
const In<at::Tensor> kSigmas{Port("sigmas", "SIGMAS")};
const In<int64_t> kStep{Int("step", 0, 0, 10000)};
const In<double> kDenoise{Float("denoise", 1.0, 0.0, 1.0)};
const In<double> kSigma{Float("sigma", 136.0, 0.0, 20000.0, 0.001)};
const In<std::string> kSigmasText{String("sigmas", "1, 0.5", true)};
const In<int64_t> kResampleSteps{Int("steps", 10, 1, 10000)};
const In<bool> kZeroLast{Bool("zero_last", true)};

}  // namespace

namespace {
std::vector<double> in_sigmas(const Inputs& in) { return diffusion::Sigmas::from_tensor(kSigmas(in)).values(); }
Value sigmas_value(std::vector<double> s) { return diffusion::Sigmas(std::move(s)).to_value(); }
std::vector<double> slice(const std::vector<double>& s, int64_t begin, int64_t end) {
  auto n = static_cast<int64_t>(s.size());
  begin = std::clamp<int64_t>(begin, 0, n);
  end = std::clamp<int64_t>(end, 0, n);
  if (end <= begin) return {};
  return std::vector<double>(s.begin() + begin, s.begin() + end);
}
}  // namespace

NodeDef split_sigmas_node() {
  NodeContract c = Node("SplitSigmas", kSigmasCategory,
                        "high_sigmas = sigmas[:step+1], low_sigmas = sigmas[step:] (the split point is shared).",
                        {kSigmas, kStep}, {{"SIGMAS", "high_sigmas"}, {"SIGMAS", "low_sigmas"}});
  return make_node(c, [](Context&, const Inputs& in) {
    auto s = in_sigmas(in);
    int64_t step = kStep(in);
    auto n = static_cast<int64_t>(s.size());
    return Outputs{sigmas_value(slice(s, 0, step + 1)), sigmas_value(slice(s, step, n))};
  });
}

NodeDef split_sigmas_denoise_node() {
  NodeContract c = Node(
      "SplitSigmasDenoise", kSigmasCategory,
      "Splits so the low part has round(steps * denoise) steps: high = sigmas[:-k], low = sigmas[-(k+1):] (ComfyUI "
      "semantics, including an empty high part when k = 0).",
      {kSigmas, kDenoise}, {{"SIGMAS", "high_sigmas"}, {"SIGMAS", "low_sigmas"}});
  return make_node(c, [](Context&, const Inputs& in) {
    auto s = in_sigmas(in);
    auto n = static_cast<int64_t>(s.size());
    int64_t steps = std::max<int64_t>(n - 1, 0);
    auto k = static_cast<int64_t>(std::nearbyint(static_cast<double>(steps) * kDenoise(in)));
    // Python: sigmas[:-k] (empty for k = 0) and sigmas[-(k+1):].
    std::vector<double> high = k == 0 ? std::vector<double>{} : slice(s, 0, n - k);
    std::vector<double> low = slice(s, n - (k + 1), n);
    return Outputs{sigmas_value(high), sigmas_value(low)};
  });
}

NodeDef flip_sigmas_node() {
  NodeContract c = Node("FlipSigmas", kSigmasCategory, "Reverses the list (for inversion); a leading 0 becomes 0.0001.",
                        {kSigmas}, {{"SIGMAS", "SIGMAS"}});
  return make_node(c, [](Context&, const Inputs& in) {
    auto s = in_sigmas(in);
    std::reverse(s.begin(), s.end());
    if (!s.empty() && s[0] == 0) s[0] = 0.0001;
    return Outputs{sigmas_value(s)};
  });
}

NodeDef set_first_sigma_node() {
  NodeContract c =
      Node("SetFirstSigma", kSigmasCategory, "Replaces the first sigma.", {kSigmas, kSigma}, {{"SIGMAS", "SIGMAS"}});
  return make_node(c, [](Context&, const Inputs& in) {
    auto s = in_sigmas(in);
    if (s.empty()) throw InputError(kSigmas.name(), "[]", "cannot set the first sigma of an empty list");
    s[0] = kSigma(in);
    return Outputs{sigmas_value(s)};
  });
}

namespace {
// ManualSigmas's text: numbers (strict decimals) separated by commas or spaces, at least 2,
// each >= 0, strictly descending (what every sampler requires of SIGMAS). Declared in the
// contract (NumberListOf), so `validate` applies it without loading this plugin.
NumberListRule manual_sigmas_rule() {
  NumberListRule rule;
  rule.min_count = 2;
  rule.min_value = 0.0;
  rule.strictly_decreasing = true;
  rule.noun = "sigma";
  return rule;
}

std::vector<double> parse_manual_sigmas(const std::string& text) {
  const NumberList list = parse_number_list(text, manual_sigmas_rule());
  if (!list.ok()) throw InputError(kSigmasText.name(), "\"" + text.substr(0, 200) + "\"", list.error);
  return list.values;
}
}  // namespace

NodeDef manual_sigmas_node() {
  NodeContract c =
      Node("ManualSigmas", kSigmasCategory,
           "A schedule typed by hand: numbers separated by commas or spaces, e.g. \"14.6, 7, 3.5, 1, 0.3, 0\". "
           "Checked at validation.",
           {kSigmasText}, {{"SIGMAS", "SIGMAS"}});
  c.constraints.push_back(NumberListOf(kSigmasText.name(), manual_sigmas_rule()));
  return make_node(
      c, [](Context&, const Inputs& in) { return Outputs{sigmas_value(parse_manual_sigmas(kSigmasText(in)))}; });
}

NodeDef resample_sigmas_node() {
  NodeContract c = Node(
      "ResampleSigmas", kSigmasCategory,
      "Log-linear resampling of a schedule to another step count (as Align Your Steps): interpolates log sigma over "
      "the positions, from the small end. The input must not contain 0 (drop a trailing 0 first, e.g. with "
      "SplitSigmas); with zero_last the new last value is set to 0, as AYS does.",
      {kSigmas, kResampleSteps, kZeroLast}, {{"SIGMAS", "SIGMAS"}});
  return make_node(c, [](Context&, const Inputs& in) {
    auto s = in_sigmas(in);
    std::vector<double> out = schedules::loglinear_interp(s, kResampleSteps(in) + 1);
    if (kZeroLast(in)) out.back() = 0.0;
    return Outputs{sigmas_value(out)};
  });
}

}  // namespace sf::nodes
