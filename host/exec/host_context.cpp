#include "exec/host_context.h"

#include "exec/crash_guard.h"
#include "sigmaflow/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>

namespace sf::host {

namespace fs = std::filesystem;

Status check_output_prefix(const std::string& p) {
  auto bad = [](const std::string& why) { return InvalidArgument("a filename prefix " + why); };
  if (p.empty()) return bad("must not be empty");
  if (p.size() > 1024) return bad("must be at most 1024 characters");
  if (p.front() == '/') return bad("must be relative to the output folder, not an absolute path");
  for (unsigned char c : p)
    if (c < 0x20 || c == 0x7f) return bad("must not contain control characters (NUL, newline, ...)");
  if (p.back() == '/' || p.back() == '.') return bad("must not end in '/' or '.' (it names files, not folders)");
  for (const auto& part : fs::path(p))
    if (part == "..") return bad("must not contain '..'");
  for (const auto& part : fs::path(p))
    if (part == ".") return bad("must not contain '.' folder parts");
  return Status::Ok();
}

int64_t next_output_counter(const std::string& dir, const std::string& prefix) {
  fs::path full = fs::path(dir) / prefix;
  const std::string base = full.filename().string() + "_";
  const std::string reserved = "." + base;  // reservations of runs still writing (reserve_output_counter)
  int64_t best = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(full.parent_path(), ec)) {
    std::string name = e.path().filename().string();
    size_t at;
    if (name.compare(0, base.size(), base) == 0)
      at = base.size();
    else if (name.compare(0, reserved.size(), reserved) == 0)
      at = reserved.size();
    else
      continue;
    size_t end = name.find('_', at);
    if (end == std::string::npos || end - at < 5 || end - at > 18) continue;  // any width from 5 digits
    const std::string digits = name.substr(at, end - at);
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    best = std::max<int64_t>(best, std::stoll(digits));
  }
  return best + 1;
}

int64_t reserve_output_counter(const std::string& dir, const std::string& prefix, std::string& reservation) {
  const fs::path full = fs::path(dir) / prefix;
  std::error_code ec;
  fs::create_directories(full.parent_path(), ec);
  remove_stale_temp_files(full.parent_path().string());
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int64_t n = next_output_counter(dir, prefix);
    char counter[32];
    std::snprintf(counter, sizeof counter, "_%05lld_", static_cast<long long>(n));
    const fs::path mark = full.parent_path() /
                          ("." + full.filename().string() + counter + "." + std::to_string(::getpid()) + ".reserved");
    // O_EXCL: of two runs that found the same free counter, one creates the mark and the other
    // looks again (and now sees the mark).
    int fd = ::open(mark.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
      ::close(fd);
      reservation = mark.string();
      return n;
    }
    if (errno != EEXIST) return n;  // cannot reserve (read-only folder): the write will say why
  }
  return next_output_counter(dir, prefix);
}

HostContext::~HostContext() {
  // The node's files exist now (or it failed): later runs count them instead of the marks.
  for (const auto& [mark, slot] : reservations_) {
    ::unlink(mark.c_str());
    untrack_file_for_exit(slot);
  }
}

Result<std::string> HostContext::output_path(const std::string& prefix, const std::string& suffix,
                                             const std::string& input) {
  Status st = check_output_prefix(prefix);
  if (!st.ok()) return std::move(st).about(input, "\"" + prefix.substr(0, 200) + "\"");
  const std::string base = options_.output_dir + "/" + prefix;
  // A folder of the prefix that is a symlink leading out of the output folder would make the
  // write land elsewhere (/etc, another user's files): refused.
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(fs::absolute(options_.output_dir, ec), ec);
  const fs::path folder = fs::weakly_canonical(fs::absolute(fs::path(base).parent_path(), ec), ec);
  const std::string inside = root.string() + "/";
  if (!ec && folder != root && folder.string().compare(0, inside.size(), inside) != 0)
    return InvalidArgument("a folder of the prefix is a link that leads outside the output folder")
        .about(input, "\"" + prefix.substr(0, 200) + "\"");
  if (options_.overwrite) return base + suffix;
  auto it = counters_.find(prefix);
  if (it == counters_.end()) {
    std::string mark;
    it = counters_.emplace(prefix, reserve_output_counter(options_.output_dir, prefix, mark)).first;
    if (!mark.empty()) reservations_.emplace_back(mark, track_file_for_exit(mark));
  }
  char counter[32];
  std::snprintf(counter, sizeof counter, "_%05lld_", static_cast<long long>(it->second));
  std::string rest = !suffix.empty() && suffix.front() == '_' ? suffix.substr(1) : suffix;
  return base + counter + rest;
}

Result<std::vector<double>> HostContext::compute_schedule(const std::string& name, const Model& model, int64_t steps,
                                                          const ScheduleHints& hints) const {
  const ScheduleDef* def = source_.schedule(name);
  if (!def) {
    const RegistryName* n = source_.catalogue().find_schedule(name);
    if (!n) return NotFound("unknown schedule '" + name + "'");
    return FailedPrecondition("schedule '" + name + "': plugin " + n->plugin +
                              " could not be loaded: " + source_.load_problem(n->plugin_path));
  }
  auto r = def->compute(model, steps, hints);
  if (!r.ok()) return r;
  const RegistryName* n = source_.catalogue().find_schedule(name);
  Status shape = check_full_schedule(*r, n && !n->fixed_length ? -1 : steps);
  if (!shape.ok()) {
    return InvalidArgument("schedule '" + name + "'" + (n ? " (plugin " + n->plugin + ")" : std::string()) +
                           " returned an invalid " + std::to_string(steps) + "-step schedule: " + shape.message());
  }
  return r;
}

Result<std::string> resolve_input_path(const std::string& path, const std::string& graph_dir) {
  namespace fs = std::filesystem;
  if (path.empty()) return InvalidArgument("the path is empty");
  std::error_code ec;
  if (fs::path(path).is_absolute() || fs::exists(path, ec)) return path;
  std::string cwd = fs::current_path(ec).string();
  if (!graph_dir.empty()) {
    fs::path beside = fs::path(graph_dir) / path;
    if (fs::exists(beside, ec)) return beside.string();
    return NotFound("'" + path + "' does not exist: looked in " + cwd + " (the working directory) and in " +
                    fs::absolute(graph_dir, ec).string() + " (the graph file's folder)");
  }
  return NotFound("'" + path + "' does not exist: looked in " + cwd + " (the working directory)");
}

Result<std::string> HostContext::resolve_path(const std::string& path, const std::string& input) const {
  auto r = options_.input_roots.empty() ? resolve_input_path(path, options_.graph_dir)
                                        : resolve_confined_path(path, options_.input_roots);
  if (!r.ok()) return Status(r.status().code(), r.status().message()).about(input, "\"" + path + "\"");
  return r;
}

bool HostContext::schedule_uses_sampler(const std::string& name) const {
  const RegistryName* n = source_.catalogue().find_schedule(name);
  return n && n->sampler_aware;
}

Result<SamplerTraits> HostContext::sampler_traits(const std::string& name) const {
  const RegistryName* n = source_.catalogue().find_sampler(name);
  if (!n) return NotFound("unknown sampler '" + name + "'");
  return n->traits;
}

Result<std::shared_ptr<const Sampler>> HostContext::make_sampler(const std::string& name,
                                                                 const SamplerSettings& settings) const {
  const RegistryName* n = source_.catalogue().find_sampler(name);
  if (!n) return NotFound("unknown sampler '" + name + "'");
  const SamplerDef* def = source_.sampler(name);
  if (!def)
    return FailedPrecondition("sampler '" + name + "': plugin " + n->plugin +
                              " could not be loaded: " + source_.load_problem(n->plugin_path));
  auto s = def->create(settings);
  if (!s.ok()) return s.status();
  if (!*s) return Internal("sampler '" + name + "' (plugin " + n->plugin + ") created no object");
  (*s)->set_provider(n->plugin);
  return std::shared_ptr<const Sampler>(*s);
}

}  // namespace sf::host

namespace sf::host {

Result<std::string> resolve_confined_path(const std::string& path, const std::vector<std::string>& roots) {
  std::string folders;
  for (const auto& r : roots) folders += (folders.empty() ? "" : " or ") + std::string("'") + r + "'";
  if (path.empty()) return InvalidArgument("the path is empty");
  if (path.size() > 1024) return InvalidArgument("the path is longer than 1024 characters");
  for (unsigned char c : path)
    if (c < 0x20 || c == 0x7f) return InvalidArgument("the path contains control characters");
  const fs::path given(path);
  if (given.is_absolute())
    return InvalidArgument("the server reads files only from its input and models folders (" + folders +
                           "): give a path relative to them, not an absolute one");
  for (const auto& part : given)
    if (part == "..")
      return InvalidArgument("the path must not contain '..' (it may only name files in " + folders + ")");
  std::error_code ec;
  for (const auto& root : roots) {
    const fs::path canonical_root = fs::weakly_canonical(root, ec);
    if (ec) continue;
    const fs::path candidate = fs::weakly_canonical(fs::path(root) / given, ec);
    if (ec) continue;
    const std::string prefix = canonical_root.string() + "/";
    if (candidate.string().compare(0, prefix.size(), prefix) != 0) {
      if (fs::exists(fs::path(root) / given, ec) || fs::is_symlink(fs::path(root) / given, ec))
        return InvalidArgument("'" + path + "' in '" + root + "' is a link that leads outside the folder");
      continue;
    }
    if (!fs::exists(candidate, ec)) continue;
    if (!fs::is_regular_file(candidate, ec)) return InvalidArgument("'" + path + "' is not a regular file");
    return candidate.string();
  }
  return NotFound("'" + path + "' does not exist in " + folders + " (upload it with /upload/image, or put it there)");
}

}  // namespace sf::host
