#include "plugins/plugin_host.h"

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
  fs::path plugins =
      dir.filename() == "bin" ? dir.parent_path() / "lib" / "sigmaflow" / "plugins" : dir / "sigmaflow" / "plugins";
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

PluginHost::PluginHost() = default;
PluginHost::~PluginHost() = default;

namespace {

// Marks a record whose scan is still to come (PluginHost::scan_uncached); never shown.
const char* const kNotScannedYet = "\x01not scanned yet";

std::string who(const std::string& plugin, const std::string& path) { return "plugin '" + plugin + "' (" + path + ")"; }

std::string clash_message(const std::string& kind, const std::string& name, const std::string& holder,
                          const std::string& refused, const std::string& how) {
  return kind + " '" + name + "' is already provided by " + holder + "; " + refused +
         " is refused for it. To replace " + "it deliberately, " + how + ".";
}

ScanRecord scan_one(const std::string& path, const ScanOptions& o, ScanCache& cache,
                    std::map<std::string, Registered>& preloaded) {
  ScanRecord rec;
  if (o.isolate) {
    if (cache.lookup(path, rec)) return rec;
    rec = scan_in_child(path, o.timeout_seconds);
    cache.store(rec);
    return rec;
  }
  rec.path = path;
  Registered reg;
  Status st = load_plugin(path, reg, rec.record, nullptr);
  rec.has_record = rec.record.api_major != 0;
  rec.ok = st.ok();
  rec.message = st.message();
  if (st.ok()) {
    describe(reg, rec);
    preloaded[path] = std::move(reg);
  }
  return rec;
}

}  // namespace

void PluginHost::scan(const ScanOptions& options) {
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
        rec = scan_one(canon, options, cache, preloaded_);
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
void PluginHost::scan_uncached(const ScanOptions& options, ScanCache& cache) {
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

Status PluginHost::add_file(const std::string& path, const ScanOptions& options) {
  ScanCache cache(options.isolate ? options.cache_dir : std::string());
  std::error_code ec;
  std::string canon = fs::weakly_canonical(path, ec).string();
  for (const auto& r : records_)
    if (r.path == canon) return Status::Ok();
  records_.push_back(scan_one(canon, options, cache, preloaded_));
  stock_.push_back(fs::path(canon).parent_path().string() == stock_plugin_dir());
  cache.save();
  resolve();
  const ScanRecord& rec = records_.back();
  return rec.ok ? Status::Ok() : FailedPrecondition(rec.message);
}

void PluginHost::resolve() {
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
    info.loaded = loaded_paths_.count(r.path) != 0 || preloaded_.count(r.path) != 0;
    plugins_.push_back(info);
    add_names(r, plugins_.back());
  }
  catalogue_.expand_registry_choices();
}

void PluginHost::add_names(const ScanRecord& r, PluginInfo& info) {
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

void PluginHost::add_registry_names(const std::vector<RegistryName>& names, bool samplers, PluginInfo& info) {
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

Status PluginHost::ensure_loaded(const std::string& path) const {
  if (loaded_paths_.count(path)) return Status::Ok();
  auto failed = load_problems_.find(path);
  if (failed != load_problems_.end()) return FailedPrecondition(failed->second);
  Registered reg;
  auto pre = preloaded_.find(path);
  if (pre != preloaded_.end()) {
    reg = std::move(pre->second);
    preloaded_.erase(pre);
  } else {
    sf_build_record record{};
    Status st = load_plugin(path, reg, record, nullptr);
    if (!st.ok()) {
      load_problems_[path] = st.message();
      return st;
    }
  }
  for (auto& d : reg.nodes) {
    const CatalogueEntry* e = catalogue_.find(d.contract.class_type);
    if (e && e->plugin_path == path) nodes_[d.contract.class_type] = std::move(d);
  }
  for (auto& d : reg.schedules) {
    const RegistryName* n = catalogue_.find_schedule(d.name);
    if (n && n->plugin_path == path) schedules_[d.name] = std::move(d);
  }
  for (auto& d : reg.samplers) {
    const RegistryName* n = catalogue_.find_sampler(d.name);
    if (n && n->plugin_path == path) samplers_[d.name] = std::move(d);
  }
  loaded_paths_.insert(path);
  return Status::Ok();
}

namespace {
template <class Map>
const typename Map::mapped_type* find_in(const Map& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}
}  // namespace

const NodeDef* PluginHost::node(const std::string& class_type) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto* d = find_in(nodes_, class_type)) return d;
  const CatalogueEntry* e = catalogue_.find(class_type);
  if (!e || !ensure_loaded(e->plugin_path).ok()) return nullptr;
  return find_in(nodes_, class_type);
}

const ScheduleDef* PluginHost::schedule(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto* d = find_in(schedules_, name)) return d;
  const RegistryName* n = catalogue_.find_schedule(name);
  if (!n || !ensure_loaded(n->plugin_path).ok()) return nullptr;
  return find_in(schedules_, name);
}

const SamplerDef* PluginHost::sampler(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto* d = find_in(samplers_, name)) return d;
  const RegistryName* n = catalogue_.find_sampler(name);
  if (!n || !ensure_loaded(n->plugin_path).ok()) return nullptr;
  return find_in(samplers_, name);
}

std::string PluginHost::load_problem(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = load_problems_.find(path);
  return it == load_problems_.end() ? std::string() : it->second;
}

size_t PluginHost::loaded_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return loaded_paths_.size() + preloaded_.size();
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
