// libFuzzer target for TorchScript path handling: the path string (relative, absolute, empty,
// NUL bytes, directories, devices, very long) and the file behind it (arbitrary bytes: size
// checks, LibTorch's zip reader, the forward-arity check). Input: a path length byte, the path,
// then the file content written to a scratch file when the path names "@file".
#include <ATen/ATen.h>

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "sigmaflow/diffusion/torchscript_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The loader checks every file in the probe process first (diffusion/src/torchscript_probe.h):
  // the one built beside this target.
  static const int probe_named = setenv("SIGMAFLOW_TORCHSCRIPT_PROBE", SF_TORCHSCRIPT_PROBE, 0);
  (void)probe_named;
  if (size < 1) return 0;
  size_t n = std::min<size_t>(data[0], size - 1);
  std::string path(reinterpret_cast<const char*>(data + 1), n);
  const std::string content(reinterpret_cast<const char*>(data + 1 + n), size - 1 - n);
  static const std::string scratch = "/tmp/sigmaflow-fuzz-" + std::to_string(getpid()) + ".pt";
  if (path.rfind("@file", 0) == 0 || path.empty()) {
    std::ofstream(scratch, std::ios::binary) << content;
    path = scratch;
  }
  sf::diffusion::TorchScriptSettings s;
  s.path = path;
  s.parametrization = sf::Parametrization::kEdm;
  s.time_input = sf::TimeInput::kLogSigmaQuarter;
  s.sample_shape = {2};
  try {
    auto m = sf::diffusion::TorchScriptModel::load(s);
    (void)m->denoise(at::zeros({1, 2}), 1.0);
  } catch (const std::exception&) {
    // Every refusal is an exception with a message: that is the contract.
  }
  return 0;
}
