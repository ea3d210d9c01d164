#include "plugins/plugin_index.h"

#define BOOST_DLL_USE_STD_FS
#include <algorithm>
#include <boost/dll/runtime_symbol_info.hpp>
#include <filesystem>
#include <set>
#include <sstream>

#include "plugins/build_gate.h"
#include "registry/contract_check.h"
#include "sigmaflow/files.h"

namespace sf::host {

namespace fs = std::filesystem;

std::string stock_plugin_dir() {
  std::error_code ec;
  fs::path self = boost::dll::this_line_location(ec);
  if (ec) return {};
  fs::path dir = self.parent_path();
  // <prefix>/libexec/sigmaflow/sigmaflow-exec (the executor behind the front): as from bin/.
  if (dir.filename() == "sigmaflow" && dir.parent_path().filename() == "libexec") dir = dir.parent_path();
  fs::path plugins = dir.filename() == "bin" || dir.filename() == "libexec"
                         ? dir.parent_path() / "lib" / "sigmaflow" / "plugins"
                         : dir / "sigmaflow" / "plugins";
  return fs::weakly_canonical(plugins, ec).string();
}

int plugin_timeout_seconds() {
  if (const char* env = std::getenv("SIGMAFLOW_PLUGIN_TIMEOUT"); env && *env) {
    std::string t = env;
    if (t.size() <= 3 && t.find_first_not_of("0123456789") == std::string::npos && std::stoi(t) >= 1 &&
        std::stoi(t) <= 600)
      return std::stoi(t);
  }
  return 20;
}

PluginIndex::PluginIndex() = default;
PluginIndex::~PluginIndex() = default;

namespace {

// Marks a record whose scan is still to come (PluginIndex::scan_uncached); never shown.
const char* const kNotScannedYet = "\x01not scanned yet";

std::string who(const std::string& plugin, const std::string& path) { return "plugin '" + plugin + "' (" + path + ")"; }

std::string clash_message(const std::string& kind, const std::string& name, const std::string& holder,
                          const std::string& refused, const std::string& how) {
  return kind + " '" + name + "' is already provided by " + holder + "; " + refused +
         " is refused for it. To replace " + "it deliberately, " + how + ".";
}

}  // namespace

ScanRecord PluginIndex::scan_one(const std::string& path, const ScanOptions& o, ScanCache& cache) {
  ScanRecord rec;
  if (!o.isolate) return scan_in_this_process(path);
  if (cache.lookup(path, rec)) return rec;
  rec = scan_in_child(path, o.timeout_seconds);
  cache.store(rec);
  return rec;
}

ScanRecord PluginIndex::scan_in_this_process(const std::string& path) {
  ScanRecord rec;
  rec.path = path;
  rec.message = "cannot be scanned in this process (the plugin index loads no code; use the plugin scanner helper)";
  return rec;
}

bool PluginIndex::loaded_here(const std::string&) const { return false; }

void PluginIndex::scan(const ScanOptions& options) {
  ScanCache cache(options.isolate ? options.cache_dir : std::string());
  std::error_code ec;
  const std::string stock = stock_plugin_dir();
  std::set<std::string> seen;
  for (const auto& r : records_) seen.insert(r.path);
  for (const auto& dir : options.dirs) {
    if (!fs::is_directory(dir, ec)) continue;
    dirs_.push_back(dir);
    const bool is_stock = fs::weakly_canonical(dir, ec).string() == stock;
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".so") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string canon = fs::weakly_canonical(f, ec).string();
      if (!seen.insert(canon).second) continue;
      ScanRecord rec;
      if (!options.isolate) {
        rec = scan_one(canon, options, cache);
      } else if (!cache.lookup(canon, rec)) {
        rec.path = canon;
        rec.message = kNotScannedYet;
      }
      records_.push_back(std::move(rec));
      stock_.push_back(is_stock);
    }
  }
  scan_uncached(options, cache);
  cache.save();
  resolve();
}

// The records the cache did not hold, scanned together in helper processes (loading LibTorch
// once per helper, not once per plugin).
void PluginIndex::scan_uncached(const ScanOptions& options, ScanCache& cache) {
  std::vector<std::string> paths;
  std::vector<size_t> at;
  for (size_t i = 0; i < records_.size(); ++i)
    if (!records_[i].ok && records_[i].message == kNotScannedYet) {
      paths.push_back(records_[i].path);
      at.push_back(i);
    }
  if (paths.empty()) return;
  std::vector<ScanRecord> scanned = scan_in_helper(paths, options.timeout_seconds);
  for (size_t k = 0; k < at.size(); ++k) {
    cache.store(scanned[k]);
    records_[at[k]] = std::move(scanned[k]);
  }
}

Status PluginIndex::add_file(const std::string& path, const ScanOptions& options) {
  ScanCache cache(options.isolate ? options.cache_dir : std::string());
  std::error_code ec;
  std::string canon = fs::weakly_canonical(path, ec).string();
  for (const auto& r : records_)
    if (r.path == canon) return Status::Ok();
  records_.push_back(scan_one(canon, options, cache));
  stock_.push_back(fs::path(canon).parent_path().string() == stock_plugin_dir());
  cache.save();
  resolve();
  const ScanRecord& rec = records_.back();
  return rec.ok ? Status::Ok() : FailedPrecondition(rec.message);
}

void PluginIndex::resolve() {
  catalogue_ = Catalogue();
  plugins_.clear();
  problems_.clear();
  overrides_.clear();
  std::vector<size_t> order;
  for (size_t i = 0; i < records_.size(); ++i)
    if (stock_[i]) order.push_back(i);
  for (size_t i = 0; i < records_.size(); ++i)
    if (!stock_[i]) order.push_back(i);
  plugins_.reserve(order.size());
  for (size_t i : order) {
    const ScanRecord& r = records_[i];
    if (!r.ok) {
      problems_.push_back({r.path, r.message});
      continue;
    }
    PluginInfo info;
    info.path = r.path;
    info.record = r.record;
    info.name = record_string(r.record.plugin_name, sizeof r.record.plugin_name);
    info.version = record_string(r.record.plugin_version, sizeof r.record.plugin_version);
    info.stock = stock_[i];
    info.loaded = loaded_here(r.path);
    plugins_.push_back(info);
    add_names(r, plugins_.back());
  }
  catalogue_.expand_registry_choices();
}

void PluginIndex::add_names(const ScanRecord& r, PluginInfo& info) {
  for (const auto& c : r.nodes) {
    auto bad = check_contract(c);
    if (!bad.empty()) {
      std::string msg;
      for (const auto& p : bad) msg += (msg.empty() ? "" : "; ") + p;
      problems_.push_back({r.path, "node '" + c.class_type + "' refused: invalid contract: " + msg});
      continue;
    }
    CatalogueEntry entry{c, info.name, info.path, {}};
    if (const CatalogueEntry* held = catalogue_.find(c.class_type)) {
      std::string holder = who(held->plugin, held->plugin_path);
      if (c.overrides != c.class_type) {
        problems_.push_back({r.path, clash_message("class_type", c.class_type, holder, who(info.name, info.path),
                                                   "set overrides = \"" + c.class_type + "\" in its contract")});
        continue;
      }
      entry.overridden = holder;
      overrides_.push_back(c.class_type + " is provided by " + who(info.name, info.path) + ", overriding " + holder);
      auto prev = std::find_if(plugins_.begin(), plugins_.end(),
                               [&](const PluginInfo& p) { return p.path == held->plugin_path; });
      if (prev != plugins_.end())
        prev->class_types.erase(std::remove(prev->class_types.begin(), prev->class_types.end(), c.class_type),
                                prev->class_types.end());
    }
    catalogue_.put(std::move(entry));
    info.class_types.push_back(c.class_type);
  }
  add_registry_names(r.schedules, false, info);
  add_registry_names(r.samplers, true, info);
}

void PluginIndex::add_registry_names(const std::vector<RegistryName>& names, bool samplers, PluginInfo& info) {
  const std::string kind = samplers ? "sampler" : "schedule";
  for (RegistryName n : names) {
    n.plugin = info.name;
    n.plugin_path = info.path;
    const RegistryName* held = samplers ? catalogue_.find_sampler(n.name) : catalogue_.find_schedule(n.name);
    if (held) {
      std::string holder = who(held->plugin, held->plugin_path);
      if (!n.overrides) {
        problems_.push_back({info.path, clash_message(kind + " name", n.name, holder, who(info.name, info.path),
                                                      "set overrides = true in its " +
                                                          std::string(samplers ? "SamplerDef" : "ScheduleDef"))});
        continue;
      }
      n.overridden = holder;
      overrides_.push_back(kind + " '" + n.name + "' is provided by " + who(info.name, info.path) + ", overriding " +
                           holder);
    }
    if (samplers)
      catalogue_.put_sampler(std::move(n));
    else
      catalogue_.put_schedule(std::move(n));
  }
}

std::vector<std::string> default_plugin_dirs(const std::vector<std::string>& cli_dirs,
                                             std::vector<std::string>* missing) {
  std::vector<std::string> dirs = cli_dirs;
  if (const char* env = std::getenv("SIGMAFLOW_PLUGIN_PATH")) {
    std::stringstream ss(env);
    std::string d;
    while (std::getline(ss, d, ':'))
      if (!d.empty()) dirs.push_back(d);
  }
  if (missing) {
    std::error_code ec;
    for (const auto& d : dirs)
      if (!fs::is_directory(d, ec)) missing->push_back(d);
  }
  std::string stock = stock_plugin_dir();
  if (!stock.empty()) dirs.push_back(stock);
  return dirs;
}

std::string default_cache_dir() { return user_cache_dir(); }

}  // namespace sf::host
