// Errors from a schedule computation that are about the MODEL input (its outputs are NaN, its
// estimate is unusable) become InputErrors naming "model"; input errors and interrupts pass.
#pragma once

#include <stdexcept>

#include "sigmaflow/model.h"
#include "sigmaflow/status.h"

namespace sf::nodes {

template <class Fn>
auto model_errors_named(const Model& model, Fn&& fn) {
  try {
    return fn();
  } catch (const InputError&) {
    throw;
  } catch (const Interrupted&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw InputError("model", model.describe(), e.what());
  }
}

}  // namespace sf::nodes
