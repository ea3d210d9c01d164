#include "plugins/build_gate.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <torch/version.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#ifndef SIGMAFLOW_TORCH_CUDA
#define SIGMAFLOW_TORCH_CUDA 0
#endif

namespace sf::host {

const sf_build_record& host_build_record() {
  static const sf_build_record record = {{'S', 'F', 'P', 'L', 'U', 'G', 'I', 'N'},
                                         sizeof(sf_build_record),
                                         SIGMAFLOW_PLUGIN_API_MAJOR,
                                         SIGMAFLOW_PLUGIN_API_MINOR,
                                         _GLIBCXX_USE_CXX11_ABI,
                                         SIGMAFLOW_TORCH_CUDA,
                                         TORCH_VERSION,
#ifdef __clang__
                                         "clang " __clang_version__,
#else
                                         "gcc " __VERSION__,
#endif
                                         "sigmaflow",
                                         ""};
  return record;
}

std::string record_string(const char* field, size_t size) { return std::string(field, strnlen(field, size)); }

Status check_build_record(const sf_build_record& p, const sf_build_record& h) {
  if (p.api_major != h.api_major)
    return FailedPrecondition("plugin API major version " + std::to_string(p.api_major) + " (" +
                              std::to_string(p.api_major) + "." + std::to_string(p.api_minor) +
                              ") does not match the host's " + std::to_string(h.api_major) + " (" +
                              std::to_string(h.api_major) + "." + std::to_string(h.api_minor) +
                              "; rebuild the plugin against this sigmaflow)");
  if (p.record_size < sizeof(sf_build_record))
    return FailedPrecondition("build record is " + std::to_string(p.record_size) + " bytes, host expects " +
                              std::to_string(sizeof(sf_build_record)));
  if (p.api_minor > h.api_minor)
    return FailedPrecondition("plugin API " + std::to_string(p.api_major) + "." + std::to_string(p.api_minor) +
                              " is newer than the host's " + std::to_string(h.api_major) + "." +
                              std::to_string(h.api_minor));
  std::string pt = record_string(p.torch_version, sizeof p.torch_version);
  std::string ht = record_string(h.torch_version, sizeof h.torch_version);
  if (pt != ht) return FailedPrecondition("plugin was built against LibTorch " + pt + ", the host runs LibTorch " + ht);
  if (p.torch_cuda != h.torch_cuda)
    return FailedPrecondition(std::string("plugin was built against a ") + (p.torch_cuda ? "CUDA" : "CPU") +
                              " LibTorch, the host runs a " + (h.torch_cuda ? "CUDA" : "CPU") + " LibTorch");
  if (p.cxx11_abi != h.cxx11_abi)
    return FailedPrecondition("plugin was built with _GLIBCXX_USE_CXX11_ABI=" + std::to_string(p.cxx11_abi) +
                              ", the host with " + std::to_string(h.cxx11_abi) +
                              " (its C++ symbols cannot match; rebuild it with the host's flag)");
  return Status::Ok();
}

namespace {

// Reads exactly n bytes at offset, or fails.
bool read_at(int fd, uint64_t offset, void* out, size_t n) {
  auto* p = static_cast<char*>(out);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Result<std::vector<Elf64_Shdr>> section_headers(int fd, const Elf64_Ehdr& eh, uint64_t file_size) {
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum ||
      eh.e_shoff + uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr) > file_size)
    return InvalidArgument("malformed ELF section table");
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  if (!read_at(fd, eh.e_shoff, sh.data(), sh.size() * sizeof(Elf64_Shdr)))
    return InvalidArgument("cannot read the ELF section table");
  return sh;
}

}  // namespace

Result<std::optional<sf_build_record>> read_build_record(const std::string& path) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) return NotFound("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) return InvalidArgument("'" + path + "' is not a regular file");
  const auto size = static_cast<uint64_t>(st.st_size);
  Elf64_Ehdr eh{};
  if (size < sizeof eh || !read_at(f.fd, 0, &eh, sizeof eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
    return InvalidArgument("not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
    return InvalidArgument("not a 64-bit little-endian ELF file (built for another machine?)");
  auto sh = section_headers(f.fd, eh, size);
  if (!sh.ok()) return sh.status();
  const Elf64_Shdr& strtab = (*sh)[eh.e_shstrndx];
  if (strtab.sh_offset + strtab.sh_size > size || strtab.sh_size > (1u << 24))
    return InvalidArgument("malformed ELF names");
  std::vector<char> names(strtab.sh_size + 1, '\0');
  if (!read_at(f.fd, strtab.sh_offset, names.data(), strtab.sh_size)) return InvalidArgument("cannot read ELF names");
  for (const auto& s : *sh) {
    if (s.sh_name >= strtab.sh_size || std::strcmp(names.data() + s.sh_name, SIGMAFLOW_RECORD_SECTION) != 0) continue;
    sf_build_record r{};
    if (s.sh_size < sizeof r || s.sh_offset + sizeof r > size || !read_at(f.fd, s.sh_offset, &r, sizeof r) ||
        std::memcmp(r.magic, SIGMAFLOW_RECORD_MAGIC, 8) != 0)
      return InvalidArgument("the " SIGMAFLOW_RECORD_SECTION " section does not hold a build record");
    return std::optional<sf_build_record>(r);
  }
  return std::optional<sf_build_record>();
}

}  // namespace sf::host
