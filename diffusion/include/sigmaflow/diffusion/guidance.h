// Classifier-free guidance as a MODEL: D = D(x | negative) + cfg (D(x | positive) - D(x | negative))
// (ComfyUI's cfg_function, k-diffusion's CFGDenoiser). With cfg = 1 only the positive branch is
// evaluated, as ComfyUI does, so the NFE halves; without a negative, the unconditional model
// (empty conditioning) is the negative branch.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "sigmaflow/model.h"

namespace sf::diffusion {

class GuidedModel : public Model {
 public:
  // `positive` and `negative` must already be checked against `base` (sf::check_conditioning).
  GuidedModel(std::shared_ptr<const Model> base, Conditioning positive, std::optional<Conditioning> negative,
              double cfg);
  int evaluations_per_call() const override;
  double timestep(double sigma) const override { return base_->timestep(sigma); }
  double sigma_at(double t) const override { return base_->sigma_at(t); }
  std::vector<double> sigma_table() const override { return base_->sigma_table(); }
  double cfg() const { return cfg_; }
  // The same guidance for rows [begin, end) of the batch: per-row conditioning (labels or
  // embeddings with more than one row) is sliced; shared conditioning stays.
  std::shared_ptr<const Model> rows(int64_t begin, int64_t end) const;

 protected:
  // `cond` must be empty: the guider's conditioning is fixed at construction.
  at::Tensor denoise_batch(const at::Tensor& x, const NoiseLevels& sigma, const Conditioning& cond) const override;

 private:
  std::shared_ptr<const Model> base_;
  Conditioning positive_;
  std::optional<Conditioning> negative_;
  double cfg_;
};

// For sharded sampling: `model` for rows [begin, end) of the batch when it is a GuidedModel (its
// per-row conditioning sliced), null when any rows may use `model` itself. The type test stays in
// this library (the architecture test forbids casts to its classes elsewhere).
std::shared_ptr<const Model> guided_rows(const Model& model, int64_t begin, int64_t end);

// A stable text fingerprint of a conditioning (labels or embedding bytes).
std::string conditioning_fingerprint(const Conditioning& c);

}  // namespace sf::diffusion
