// The TorchScript probe (tools/torchscript_probe.cpp): a file is loaded first in a process of its
// own, under an address-space cap, so a file that makes LibTorch allocate without bound or crash
// fails there, not in the host, and no process-wide limit is ever set on the host. Private to the
// diffusion library.
#pragma once

#include <cstdint>
#include <string>

namespace sf::diffusion {

// $SIGMAFLOW_TORCHSCRIPT_PROBE, else <prefix>/libexec/sigmaflow/sigmaflow-torchscript-probe beside
// the <prefix>/lib (or lib/<triplet>) holding this library.
std::string torchscript_probe_path();

// Empty when the probe loaded `path` (a file of `file_bytes` bytes); otherwise why not, worded to
// follow "'<path>' is not a loadable TorchScript file". A probe that does not start is an error
// too (std::runtime_error). Verdicts are remembered per path, size and mtime for the process's
// life. Thread-safe.
std::string probe_torchscript(const std::string& path, uint64_t file_bytes);

// LibTorch's message for a failed load: its first non-empty line (a backtrace follows), at most
// 300 characters. Shared by the loader and the probe so both word a refusal the same way.
inline std::string libtorch_message(const std::string& what) {
  std::string line;
  for (size_t a = 0; a < what.size() && line.empty();) {
    const size_t b = what.find('\n', a);
    line = what.substr(a, b == std::string::npos ? std::string::npos : b - a);
    a = b == std::string::npos ? what.size() : b + 1;
  }
  return line.substr(0, 300);
}

}  // namespace sf::diffusion
