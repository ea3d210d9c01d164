#include "sigmaflow/diffusion/guidance.h"

#include <ATen/ATen.h>

#include <cstdio>
#include <stdexcept>

#include "sigmaflow/diffusion/fingerprint.h"
#include "sigmaflow/status.h"

namespace sf::diffusion {

namespace {

std::string fmt_cfg(double cfg) { return number_text(cfg, 17); }

ModelInfo guided_info(const Model& base, const Conditioning& pos, const std::optional<Conditioning>& neg, double cfg) {
  ModelInfo info = base.info();
  info.num_classes = 0;
  info.takes_embedding = false;
  info.embedding_shape.clear();
  info.fingerprint = base.fingerprint() + "|cfg=" + fmt_cfg(cfg) + "|pos=" + conditioning_fingerprint(pos) +
                     "|neg=" + (neg ? conditioning_fingerprint(*neg) : std::string("none"));
  info.description = base.describe() + ", guided (cfg " + fmt_cfg(cfg) + ")";
  return info;
}

}  // namespace

std::string conditioning_fingerprint(const Conditioning& c) {
  if (c.empty()) return "uncond";
  uint64_t h = fnv1a(std::string("cond"));
  for (const at::Tensor* t : {&c.labels, &c.embedding}) {
    if (!t->defined()) {
      h = fnv1a(std::string("-"), h);
      continue;
    }
    at::Tensor v = t->detach().to(at::kCPU).contiguous();
    h = fnv1a(c10::str(v.sizes(), v.scalar_type()), h);
    h = fnv1a(v.data_ptr(), v.nbytes(), h);
  }
  return hex64(h);
}

GuidedModel::GuidedModel(std::shared_ptr<const Model> base, Conditioning positive, std::optional<Conditioning> negative,
                         double cfg)
    : Model(guided_info(*base, positive, negative, cfg)),
      base_(std::move(base)),
      positive_(std::move(positive)),
      negative_(std::move(negative)),
      cfg_(cfg) {}

int GuidedModel::evaluations_per_call() const { return (cfg_ == 1.0 ? 1 : 2) * base_->evaluations_per_call(); }

namespace {
Conditioning slice_rows(const Conditioning& c, int64_t begin, int64_t end) {
  Conditioning out = c;
  if (out.labels.defined() && out.labels.dim() > 0 && out.labels.size(0) > 1)
    out.labels = out.labels.narrow(0, begin, end - begin);
  if (out.embedding.defined() && out.embedding.dim() > 0 && out.embedding.size(0) > 1)
    out.embedding = out.embedding.narrow(0, begin, end - begin);
  return out;
}
}  // namespace

std::shared_ptr<const Model> guided_rows(const Model& model, int64_t begin, int64_t end) {
  const auto* guided = dynamic_cast<const GuidedModel*>(&model);
  return guided ? guided->rows(begin, end) : nullptr;
}

std::shared_ptr<const Model> GuidedModel::rows(int64_t begin, int64_t end) const {
  std::optional<Conditioning> negative;
  if (negative_) negative = slice_rows(*negative_, begin, end);
  return std::make_shared<GuidedModel>(base_, slice_rows(positive_, begin, end), negative, cfg_);
}

at::Tensor GuidedModel::denoise_batch(const at::Tensor& x, const NoiseLevels& sigma, const Conditioning& cond) const {
  if (!cond.empty()) throw std::invalid_argument("a guided model takes no further conditioning");
  at::Tensor positive = base_->denoise(x, sigma, positive_);
  if (cfg_ == 1.0) return positive;
  at::Tensor negative = base_->denoise(x, sigma, negative_ ? *negative_ : Conditioning{});
  return negative + (positive - negative) * cfg_;
}

}  // namespace sf::diffusion
