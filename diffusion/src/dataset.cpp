#include "sigmaflow/diffusion/dataset.h"

#include <ATen/ATen.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <vector>

#include "sigmaflow/diffusion/memory.h"
#include "sigmaflow/diffusion/npy.h"
#include "sigmaflow/files.h"

namespace sf::diffusion {

namespace {
uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Bytes per value of an IDX type code; 0 for a code IDX does not define.
size_t idx_element_size(unsigned char code) {
  switch (code) {
    case 0x08:
    case 0x09:
      return 1;
    case 0x0B:
      return 2;
    case 0x0C:
    case 0x0D:
      return 4;
    case 0x0E:
      return 8;
    default:
      return 0;
  }
}

// The whole IDX file's size from its header once `head` holds it: 0 while it does not, UINT64_MAX
// when the header is not one parse_idx accepts (it then says why).
uint64_t idx_declared_size(const std::string& head) {
  if (head.size() < 4) return 0;
  auto* p = reinterpret_cast<const unsigned char*>(head.data());
  const size_t elem = idx_element_size(p[2]), ndim = p[3];
  if (p[0] != 0 || p[1] != 0 || elem == 0 || ndim == 0) return UINT64_MAX;
  if (head.size() < 4 + 4 * ndim) return 0;
  std::vector<int64_t> shape;
  for (size_t i = 0; i < ndim; ++i) shape.push_back(be32(p + 4 + 4 * i));
  uint64_t need = 0;
  if (!checked_bytes(shape, elem, need) || need > UINT64_MAX - 4 - 4 * ndim) return UINT64_MAX;
  return 4 + 4 * ndim + need;
}

// Reads the whole IDX file through zlib, which passes uncompressed files through unchanged. A
// small gzip file can expand enormously (30 MB to 4.35 GB): the header's declared size is checked
// against the available memory before the data is inflated, and reading stops at that size.
Result<std::string> read_maybe_gzip(const std::string& path) {
  auto size = check_readable_file(path, kMaxDataFileBytes);
  if (!size.ok()) return size.status();
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return IoError("cannot open '" + path + "'");
  std::string out;
  char buf[1 << 16];
  int n;
  uint64_t declared = 0;
  while ((n = gzread(f, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    if (declared == 0 && (declared = idx_declared_size(out)) != 0 && declared != UINT64_MAX) {
      const size_t elem = idx_element_size(static_cast<unsigned char>(out[2]));
      // The bytes, the tensor they become and its float32 copy (LoadDataset).
      Status mem = check_allocation(
          declared, "reading '" + path + "' (its header declares " + std::to_string(declared) + " bytes)",
          2.0 + 4.0 / static_cast<double>(elem));
      if (!mem.ok()) {
        gzclose(f);
        return mem;
      }
    }
    if (declared != 0 && declared != UINT64_MAX && out.size() >= declared) {
      out.resize(declared);  // whatever follows the declared data is not read
      break;
    }
    if (out.size() > kMaxDataFileBytes) {
      gzclose(f);
      return ResourceExhausted("'" + path + "' decompresses to more than " + std::to_string(kMaxDataFileBytes) +
                               " bytes (the limit for data files; docs/limits.md)");
    }
  }
  int err = 0;
  const char* msg = gzerror(f, &err);
  bool failed = n < 0 || (err != Z_OK && err != Z_STREAM_END);
  std::string what = failed ? std::string(msg ? msg : "read error") : std::string();
  gzclose(f);
  if (failed) return InvalidArgument("'" + path + "': corrupt or truncated gzip data (" + what + ")");
  return out;
}

}  // namespace

Result<at::Tensor> load_idx(const std::string& path) {
  auto bytes = read_maybe_gzip(path);
  if (!bytes.ok()) return bytes.status();
  return parse_idx(bytes.value(), path);
}

Result<at::Tensor> parse_idx(const std::string& b, const std::string& path) {
  auto bad = [&](const std::string& m) { return InvalidArgument("'" + path + "' is not a valid IDX file: " + m); };
  if (b.size() < 4) return bad("shorter than its 4-byte magic");
  auto* p = reinterpret_cast<const unsigned char*>(b.data());
  if (p[0] != 0 || p[1] != 0) return bad("the magic must start with two zero bytes");
  at::ScalarType type;
  size_t elem;
  switch (p[2]) {
    case 0x08:
      type = at::kByte;
      elem = 1;
      break;
    case 0x09:
      type = at::kChar;
      elem = 1;
      break;
    case 0x0B:
      type = at::kShort;
      elem = 2;
      break;
    case 0x0C:
      type = at::kInt;
      elem = 4;
      break;
    case 0x0D:
      type = at::kFloat;
      elem = 4;
      break;
    case 0x0E:
      type = at::kDouble;
      elem = 8;
      break;
    default:
      return bad("unknown data type code " + std::to_string(p[2]));
  }
  size_t ndim = p[3];
  if (ndim == 0) return bad("zero dimensions");
  if (b.size() < 4 + 4 * ndim) return bad("truncated header");
  std::vector<int64_t> shape;
  for (size_t i = 0; i < ndim; ++i) shape.push_back(be32(p + 4 + 4 * i));
  uint64_t need = 0;
  if (!checked_bytes(shape, elem, need)) return bad("the dimensions' element count overflows");
  const size_t count = need / elem;
  size_t have = b.size() - 4 - 4 * ndim;
  if (have < need)
    return bad("truncated data: " + std::to_string(have) + " bytes for " + std::to_string(count) + " values of " +
               std::to_string(elem) + " bytes");
  Status mem = check_allocation(need, "reading '" + path + "'");
  if (!mem.ok()) return mem;
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(type));
  const unsigned char* src = p + 4 + 4 * ndim;
  if (need == 0) return t;  // a zero-sized dimension: nothing to copy (and no data pointer)
  if (elem == 1) {
    std::memcpy(t.data_ptr(), src, need);
  } else {
    // Big-endian to host order.
    auto* dst = static_cast<unsigned char*>(t.data_ptr());
    for (size_t i = 0; i < count; ++i)
      for (size_t k = 0; k < elem; ++k) dst[i * elem + k] = src[i * elem + (elem - 1 - k)];
  }
  return t;
}

Result<at::Tensor> load_dataset(const std::string& path, int64_t offset, int64_t limit) {
  std::string ext = std::filesystem::path(path).extension().string();
  Result<at::Tensor> raw = ext == ".npy" ? load_npy(path) : load_idx(path);
  if (!raw.ok()) return raw.status();
  at::Tensor t = raw.value();
  if (t.dim() < 1 || t.size(0) == 0) return InvalidArgument("'" + path + "' holds no samples");
  if (offset < 0 || offset >= t.size(0))
    return InvalidArgument("offset " + std::to_string(offset) + " is outside the " + std::to_string(t.size(0)) +
                           " samples");
  int64_t end = limit > 0 ? std::min(t.size(0), offset + limit) : t.size(0);
  t = t.slice(0, offset, end);
  if (t.scalar_type() == at::kByte) return (t.to(at::kFloat) / 127.5 - 1).contiguous();
  return t.to(at::kFloat).contiguous();
}

}  // namespace sf::diffusion
