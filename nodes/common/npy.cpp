#include "npy.h"

#include <ATen/ATen.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "sigmaflow/files.h"

namespace sf::nodes {

namespace {
const char kMagic[] = "\x93NUMPY";

bool descr_of(at::ScalarType t, std::string& d) {
  switch (t) {
    case at::kFloat: d = "<f4"; return true;
    case at::kDouble: d = "<f8"; return true;
    case at::kInt: d = "<i4"; return true;
    case at::kLong: d = "<i8"; return true;
    case at::kByte: d = "|u1"; return true;
    case at::kBool: d = "|b1"; return true;
    default: return false;
  }
}
bool type_of(const std::string& d, at::ScalarType& t) {
  static const std::pair<const char*, at::ScalarType> table[] = {
      {"<f4", at::kFloat}, {"<f8", at::kDouble}, {"<i4", at::kInt}, {"<i8", at::kLong},
      {"|u1", at::kByte},  {"<u1", at::kByte},   {"|b1", at::kBool}, {"<f2", at::kHalf}};
  for (const auto& [name, type] : table)
    if (d == name) {
      t = type;
      return true;
    }
  return false;
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
  if (b.size() < 10 || b.compare(0, 6, kMagic, 6) != 0) return bad("missing the \\x93NUMPY magic");
  auto major = static_cast<unsigned char>(b[6]);
  size_t hlen, hstart;
  if (major == 1) {
    hlen = static_cast<unsigned char>(b[8]) | (static_cast<size_t>(static_cast<unsigned char>(b[9])) << 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) return bad("truncated header");
    hlen = 0;
    for (int i = 0; i < 4; ++i) hlen |= static_cast<size_t>(static_cast<unsigned char>(b[8 + static_cast<size_t>(i)])) << (8 * i);
    hstart = 12;
  } else {
    return bad("unsupported format version " + std::to_string(major));
  }
  if (b.size() < hstart + hlen) return bad("truncated header");
  std::string header = b.substr(hstart, hlen);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('descr'\s*:\s*'([^']*)')"))) return bad("header has no descr");
  std::string descr = m[1];
  at::ScalarType type;
  if (!type_of(descr, type)) return bad("unsupported dtype '" + descr + "'");
  if (!std::regex_search(header, m, std::regex(R"('fortran_order'\s*:\s*(True|False))")))
    return bad("header has no fortran_order");
  bool fortran = m[1] == "True";
  if (!std::regex_search(header, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))"))) return bad("header has no shape");
  std::vector<int64_t> shape;
  std::stringstream ss(m[1].str());
  std::string item;
  int64_t count = 1;
  while (std::getline(ss, item, ',')) {
    item.erase(0, item.find_first_not_of(" "));
    item.erase(item.find_last_not_of(" ") + 1);
    if (item.empty()) continue;
    if (item.find_first_not_of("0123456789") != std::string::npos) return bad("bad shape entry '" + item + "'");
    shape.push_back(std::stoll(item));
    count *= shape.back();
  }
  size_t elem = c10::elementSize(type);
  size_t need = static_cast<size_t>(count) * elem;
  size_t have = b.size() - hstart - hlen;
  if (have < need)
    return bad("truncated data: " + std::to_string(have) + " bytes for " + std::to_string(count) + " elements of " +
               std::to_string(elem) + " bytes");
  std::vector<int64_t> load_shape = shape;
  if (fortran) std::reverse(load_shape.begin(), load_shape.end());
  at::Tensor t = at::empty(load_shape, at::TensorOptions().dtype(type));
  if (need) std::memcpy(t.data_ptr(), b.data() + hstart + hlen, need);
  if (fortran && t.dim() > 1) {
    std::vector<int64_t> perm;
    for (int64_t i = t.dim() - 1; i >= 0; --i) perm.push_back(i);
    t = t.permute(perm).contiguous();
  }
  return t;
}

Result<at::Tensor> load_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound("cannot open '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_npy(ss.str(), "'" + path + "'");
}

}  // namespace sf::nodes
