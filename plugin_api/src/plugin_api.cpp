// Out-of-line parts of the plugin API: the key functions of the shared interfaces (so their
// vtables and type_info live once, in libsigmaflow_plugin_api), and small helpers.
#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "sigmaflow/diagnostics.h"
#include "sigmaflow/files.h"
#include "sigmaflow/report.h"
#include "sigmaflow/node.h"

namespace sf {

at::Tensor Model::score(const at::Tensor& x, const at::Tensor& sigma) const {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  at::Tensor s = sigma.to(x.scalar_type()).reshape(shape);
  return (denoise(x, sigma) - x) / (s * s);
}

at::Tensor Model::sigma_table() const {
  return at::linspace(std::log(sigma_min()), std::log(sigma_max()), 1000, at::kDouble).exp();
}

std::string Model::describe() const {
  std::ostringstream os;
  os << "MODEL " << parametrization() << " sigma [" << sigma_min() << ", " << sigma_max() << "] on "
     << device().str();
  return os.str();
}

ScheduleDiagnostics::~ScheduleDiagnostics() = default;

std::string ScheduleDiagnostics::describe() const {
  std::ostringstream os;
  os << "SCHEDULE_DIAGNOSTICS " << method << " (" << grid.size() << " grid points, " << nfe << " NFE"
     << (from_cache ? ", cached" : "") << ")";
  return os.str();
}

Metric::~Metric() = default;
std::string Metric::describe() const {
  std::ostringstream os;
  os << "METRIC " << name << " = " << value << " (" << computed_on << ")";
  return os.str();
}

Report::~Report() = default;
std::string Report::describe() const {
  std::ostringstream os;
  os << "REPORT " << cells.size() << " cells on " << model;
  return os.str();
}

namespace {
[[noreturn]] void missing(const std::string& name) {
  throw InputError(name, "", "required input '" + name + "' is missing");
}
std::string kind_of(const Value& v) {
  if (v.is_literal()) return "a literal " + v.literal().to_json();
  if (v.is_tensor()) return "a tensor";
  if (v.is_object()) return "a " + v.type() + " object";
  return "nothing";
}
}  // namespace

const Value& Inputs::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) missing(name);
  return it->second;
}

const Literal& Inputs::get_literal(const std::string& name) const {
  const Value& v = get(name);
  if (!v.is_literal()) throw InputError(name, v.type(), "input '" + name + "' expects a literal, got " + kind_of(v));
  return v.literal();
}

int64_t Inputs::get_int(const std::string& name) const {
  const Literal& l = get_literal(name);
  if (l.is_int()) return l.as_int();
  if (l.is_float() && std::floor(l.as_number()) == l.as_number()) return static_cast<int64_t>(l.as_number());
  throw InputError(name, l.to_json(), "input '" + name + "' expects an integer");
}

double Inputs::get_float(const std::string& name) const {
  const Literal& l = get_literal(name);
  if (l.is_number()) return l.as_number();
  throw InputError(name, l.to_json(), "input '" + name + "' expects a number");
}

bool Inputs::get_bool(const std::string& name) const {
  const Literal& l = get_literal(name);
  if (l.is_bool()) return l.as_bool();
  throw InputError(name, l.to_json(), "input '" + name + "' expects a boolean");
}

const std::string& Inputs::get_string(const std::string& name) const {
  const Literal& l = get_literal(name);
  if (l.is_string()) return l.as_string();
  throw InputError(name, l.to_json(), "input '" + name + "' expects a string");
}

const at::Tensor& Inputs::get_tensor(const std::string& name) const {
  const Value& v = get(name);
  if (!v.is_tensor()) throw InputError(name, v.type(), "input '" + name + "' expects a tensor, got " + kind_of(v));
  return v.tensor();
}

std::shared_ptr<const Object> Inputs::get_object(const std::string& name) const {
  const Value& v = get(name);
  if (!v.is_object() || !v.object())
    throw InputError(name, v.type(), "input '" + name + "' expects an object, got " + kind_of(v));
  return v.object();
}

std::string user_cache_dir() {
  if (const char* d = std::getenv("SIGMAFLOW_CACHE_DIR"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/sigmaflow";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/sigmaflow";
  return "/tmp/sigmaflow-cache";
}

Status write_file_atomic(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path target(path);
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) return IoError("cannot create folder '" + target.parent_path().string() + "': " + ec.message());
  }
  std::string tmpl = (target.has_parent_path() ? target.parent_path().string() + "/" : std::string()) + "." +
                     target.filename().string() + ".tmp.XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0) return IoError("cannot write '" + path + "': " + std::strerror(errno));
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(name.data());
      return IoError("cannot write '" + path + "': " + err);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  ::fchmod(fd, 0644);
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(name.data());
    return IoError("cannot write '" + path + "': " + std::strerror(errno));
  }
  if (::rename(name.data(), path.c_str()) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(name.data());
    return IoError("cannot rename into '" + path + "': " + err);
  }
  return Status::Ok();
}

}  // namespace sf
