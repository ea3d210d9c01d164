// CONDITIONING and GUIDER: ComfyUI's types for what a model is conditioned on and for the object
// samplers call (BasicGuider, CFGGuider). A guider exposes a MODEL whose denoise() applies the
// guidance, so every sampler runs unchanged under it.
//
// Threading and ownership: both are immutable once published; they share their models and
// tensors by shared_ptr.
#pragma once

#include <memory>
#include <string>

#include "sigmaflow/model.h"
#include "sigmaflow/status.h"

namespace sf {

class SF_SHARED ConditioningValue : public Object {
 public:
  ConditioningValue(Conditioning conditioning, std::string source)
      : conditioning_(std::move(conditioning)), source_(std::move(source)) {}
  ~ConditioningValue() override;
  std::string type_name() const override { return "CONDITIONING"; }
  std::string describe() const override;  // e.g. "CONDITIONING (class 3)"
  const Conditioning& conditioning() const { return conditioning_; }
  const std::string& source() const { return source_; }

 private:
  Conditioning conditioning_;
  std::string source_;
};

class SF_SHARED Guider : public Object {
 public:
  // `guided` is what samplers call; `base` the model it guides (shape, sigma range, fingerprint).
  Guider(std::shared_ptr<const Model> guided, std::shared_ptr<const Model> base, std::string description)
      : guided_(std::move(guided)), base_(std::move(base)), description_(std::move(description)) {}
  ~Guider() override;
  std::string type_name() const override { return "GUIDER"; }
  std::string describe() const override { return "GUIDER (" + description_ + ")"; }
  const Model& model() const { return *guided_; }
  const std::shared_ptr<const Model>& model_ptr() const { return guided_; }
  const Model& base_model() const { return *base_; }

 private:
  std::shared_ptr<const Model> guided_, base_;
  std::string description_;
};

// Whether `model` accepts `cond` for a batch of `batch` rows (-1: any): labels need a
// class-conditional model and every label in 0 .. num_classes - 1; an embedding needs a model
// that takes one, of its per-sample shape when the model declares it; a batch dimension of 1 or
// `batch`. The message says what was expected.
Status check_conditioning(const Model& model, const Conditioning& cond, int64_t batch = -1);

}  // namespace sf
