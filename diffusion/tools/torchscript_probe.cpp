// sigmaflow-torchscript-probe: loads a TorchScript file in a process of its own, under an
// address-space cap, and says whether LibTorch can read it. Started by the diffusion library
// (src/torchscript_probe.cpp) before it loads a file into the host process; never by hand:
//   sigmaflow-torchscript-probe <path> <file bytes>
// Exit 0: loaded. Exit 3: refused, the reason (LibTorch's first line) on stdout. A signal: LibTorch
// crashed while reading the file. Exit 2: bad arguments.
//
// Why a process: LibTorch's deserializer trusts sizes written inside the archive (fuzz_torchscript
// found a 3 kB file that made it allocate 16 GB over 49 s) and its type parser reads freed memory on
// some files. The cap (RLIMIT_AS) applies to the whole process, so it must not be the host's, where
// other threads (the server, Gloo, a CUDA context) allocate at the same time.
#include <ATen/Parallel.h>
#include <sys/resource.h>
#include <torch/script.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "../src/torchscript_probe.h"
#include "sigmaflow/diffusion/torchscript_model.h"

namespace {

#if defined(__SANITIZE_ADDRESS__)
#define SF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SF_ASAN 1
#endif
#endif

// The address space is capped at its current size plus max(4 GiB, 8 x the file size): a file that
// asks for more fails fast. Not under AddressSanitizer, whose shadow memory needs the address
// space.
void cap_address_space(uint64_t file_bytes) {
#ifndef SF_ASAN
  uint64_t vm_kb = 0;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmSize:", 0) == 0) vm_kb = std::strtoull(line.c_str() + 7, nullptr, 10);
  rlimit limit{};
  if (vm_kb == 0 || getrlimit(RLIMIT_AS, &limit) != 0) return;
  const uint64_t extra = std::max<uint64_t>(uint64_t{4} << 30, 8 * file_bytes);
  limit.rlim_cur = std::min<uint64_t>(limit.rlim_cur, vm_kb * 1024 + extra);
  setrlimit(RLIMIT_AS, &limit);
#else
  (void)file_bytes;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <path> <file bytes> (started by sigmaflow to check TorchScript files)\n", argv[0]);
    return 2;
  }
  char* end = nullptr;
  const unsigned long long file_bytes = std::strtoull(argv[2], &end, 10);
  if (!end || *end != '\0') return 2;
  at::set_num_threads(1);
  cap_address_space(file_bytes);
  try {
    torch::jit::ExtraFilesMap extra{{sf::diffusion::kNetworkMetadataFile, ""}};
    torch::jit::load(argv[1], torch::kCPU, extra);
  } catch (const std::exception& e) {
    std::fputs(sf::diffusion::libtorch_message(e.what()).c_str(), stdout);
    return 3;
  }
  return 0;
}
