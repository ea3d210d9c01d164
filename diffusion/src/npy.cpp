#include "sigmaflow/diffusion/npy.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "sigmaflow/diffusion/memory.h"
#include "sigmaflow/files.h"

namespace sf::diffusion {

namespace {
const char kMagic[] = "\x93NUMPY";

bool descr_of(at::ScalarType t, std::string& d) {
  switch (t) {
    case at::kFloat:
      d = "<f4";
      return true;
    case at::kDouble:
      d = "<f8";
      return true;
    case at::kHalf:  // what load_npy reads from "<f2", written back the same
      d = "<f2";
      return true;
    case at::kInt:
      d = "<i4";
      return true;
    case at::kLong:
      d = "<i8";
      return true;
    case at::kByte:
      d = "|u1";
      return true;
    case at::kBool:
      d = "|b1";
      return true;
    default:
      return false;
  }
}
bool type_of(const std::string& d, at::ScalarType& t) {
  static const std::pair<const char*, at::ScalarType> table[] = {
      {"<f4", at::kFloat}, {"<f8", at::kDouble}, {"<i4", at::kInt},  {"<i8", at::kLong},
      {"|u1", at::kByte},  {"<u1", at::kByte},   {"|b1", at::kBool}, {"<f2", at::kHalf}};
  for (const auto& [name, type] : table)
    if (d == name) {
      t = type;
      return true;
    }
  return false;
}

// The header dict, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
struct NpyHeader {
  std::string descr;
  bool fortran = false, has_descr = false, has_order = false, has_shape = false;
  std::vector<int64_t> shape;
};

// A flat scanner over the header text: no recursion, every loop bounded by the text length.
class HeaderScanner {
 public:
  explicit HeaderScanner(const std::string& text) : t_(text) {}
  std::string parse(NpyHeader& h) {
    skip();
    if (!eat('{')) return "the header is not a dict";
    while (true) {
      skip();
      if (eat('}')) return {};
      std::string key;
      if (!quoted(key)) return "expected a quoted key";
      skip();
      if (!eat(':')) return "expected ':' after '" + key + "'";
      skip();
      std::string err = value(key, h);
      if (!err.empty()) return err;
      skip();
      if (eat(',')) continue;
      skip();
      if (eat('}')) return {};
      return "expected ',' or '}' after '" + key + "'";
    }
  }

 private:
  std::string value(const std::string& key, NpyHeader& h) {
    if (key == "descr") {
      h.has_descr = true;
      return quoted(h.descr) ? "" : "descr must be a quoted string";
    }
    if (key == "fortran_order") {
      h.has_order = true;
      if (word("True"))
        h.fortran = true;
      else if (word("False"))
        h.fortran = false;
      else
        return "fortran_order must be True or False";
      return {};
    }
    if (key == "shape") {
      h.has_shape = true;
      return shape(h.shape);
    }
    return "unexpected key '" + key + "'";
  }
  std::string shape(std::vector<int64_t>& out) {
    if (!eat('(')) return "shape must be a tuple";
    while (true) {
      skip();
      if (eat(')')) return {};
      size_t start = i_;
      while (i_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[i_]))) ++i_;
      if (i_ == start || i_ - start > 18) return "bad shape entry at offset " + std::to_string(start);
      if (out.size() == kMaxNpyDims)
        return "more than " + std::to_string(kMaxNpyDims) + " dimensions (the limit; see docs/limits.md)";
      out.push_back(std::stoll(t_.substr(start, i_ - start)));
      skip();
      if (eat(',')) continue;
      if (eat(')')) return {};
      return "bad shape tuple";
    }
  }
  bool quoted(std::string& out) {
    if (i_ >= t_.size() || (t_[i_] != '\'' && t_[i_] != '"')) return false;
    char q = t_[i_++];
    size_t end = t_.find(q, i_);
    if (end == std::string::npos) return false;
    out = t_.substr(i_, end - i_);
    i_ = end + 1;
    return true;
  }
  bool word(const char* w) {
    size_t n = std::strlen(w);
    if (t_.compare(i_, n, w) != 0) return false;
    i_ += n;
    return true;
  }
  bool eat(char c) {
    if (i_ < t_.size() && t_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void skip() {
    while (i_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[i_]))) ++i_;
  }
  const std::string& t_;
  size_t i_ = 0;
};

Result<size_t> header_bounds(const std::string& b, size_t& hstart, const std::string& what) {
  auto bad = [&](const std::string& m) { return InvalidArgument(what + ": not a valid .npy file: " + m); };
  if (b.size() < 10 || b.compare(0, 6, kMagic, 6) != 0) return bad("missing the \\x93NUMPY magic");
  auto major = static_cast<unsigned char>(b[6]);
  size_t hlen = 0;
  if (major == 1) {
    hlen = static_cast<unsigned char>(b[8]) | (static_cast<size_t>(static_cast<unsigned char>(b[9])) << 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) return bad("truncated header");
    for (int i = 0; i < 4; ++i)
      hlen |= static_cast<size_t>(static_cast<unsigned char>(b[8 + static_cast<size_t>(i)])) << (8 * i);
    hstart = 12;
  } else {
    return bad("unsupported format version " + std::to_string(major));
  }
  if (hlen > kMaxNpyHeaderBytes)
    return bad("the header is " + std::to_string(hlen) + " bytes, over the limit of " +
               std::to_string(kMaxNpyHeaderBytes));
  if (b.size() < hstart + hlen) return bad("truncated header");
  return hlen;
}
}  // namespace

Status save_npy(const std::string& path, const at::Tensor& tensor) {
  at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
  std::string descr;
  if (!descr_of(t.scalar_type(), descr))
    return InvalidArgument(std::string("cannot save dtype ") + c10::toString(t.scalar_type()) + " as .npy");
  // numpy's repr of the shape tuple: "(3, 4)", "(3,)", "()".
  std::string shape = "(";
  for (int64_t i = 0; i < t.dim(); ++i) shape += (i ? ", " : "") + std::to_string(t.size(i));
  if (t.dim() == 1) shape += ",";
  shape += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out(kMagic, 6);
  out += '\x01';
  out += '\x00';
  auto len = static_cast<uint16_t>(header.size());
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(len >> 8);
  out += header;
  out.append(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.nbytes()));
  return write_file_atomic(path, out);
}

Result<at::Tensor> parse_npy(const std::string& b, const std::string& what) {
  auto bad = [&](const std::string& m) { return InvalidArgument(what + ": not a valid .npy file: " + m); };
  size_t hstart = 0;
  auto hlen = header_bounds(b, hstart, what);
  if (!hlen.ok()) return hlen.status();
  NpyHeader h;
  std::string err = HeaderScanner(b.substr(hstart, *hlen)).parse(h);
  if (!err.empty()) return bad(err);
  if (!h.has_descr) return bad("header has no descr");
  if (!h.has_order) return bad("header has no fortran_order");
  if (!h.has_shape) return bad("header has no shape");
  at::ScalarType type;
  if (!type_of(h.descr, type)) return bad("unsupported dtype '" + h.descr + "'");
  uint64_t need = 0;
  if (!checked_bytes(h.shape, c10::elementSize(type), need)) return bad("the shape's element count overflows");
  size_t have = b.size() - hstart - *hlen;
  if (have < need)
    return bad("truncated data: " + std::to_string(have) + " bytes for a shape needing " + std::to_string(need) +
               " bytes");
  std::vector<int64_t> load_shape = h.shape;
  if (h.fortran) std::reverse(load_shape.begin(), load_shape.end());
  at::Tensor t = at::empty(load_shape, at::TensorOptions().dtype(type));
  if (need) std::memcpy(t.data_ptr(), b.data() + hstart + *hlen, need);
  if (h.fortran && t.dim() > 1) {
    std::vector<int64_t> perm;
    for (int64_t i = t.dim() - 1; i >= 0; --i) perm.push_back(i);
    t = t.permute(perm).contiguous();
  }
  return t;
}

Result<at::Tensor> load_npy(const std::string& path) {
  auto size = check_readable_file(path, kMaxDataFileBytes);
  if (!size.ok()) return size.status();
  Status mem = check_allocation(2 * *size, "reading '" + path + "'");
  if (!mem.ok()) return mem;
  auto bytes = read_file_bounded(path, kMaxDataFileBytes);
  if (!bytes.ok()) return bytes.status();
  return parse_npy(*bytes, "'" + path + "'");
}

}  // namespace sf::diffusion
