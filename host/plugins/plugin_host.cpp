#include "plugins/plugin_host.h"

namespace sf::host {

PluginHost::PluginHost() = default;
PluginHost::~PluginHost() = default;

ScanRecord PluginHost::scan_in_this_process(const std::string& path) {
  ScanRecord rec;
  rec.path = path;
  Registered reg;
  Status st = load_plugin(path, reg, rec.record, nullptr);
  rec.has_record = rec.record.api_major != 0;
  rec.ok = st.ok();
  rec.message = st.message();
  if (st.ok()) {
    describe(reg, rec);
    std::lock_guard<std::mutex> lock(mutex_);
    preloaded_[path] = std::move(reg);
  }
  return rec;
}

bool PluginHost::loaded_here(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return loaded_paths_.count(path) != 0 || preloaded_.count(path) != 0;
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
    const CatalogueEntry* e = catalogue().find(d.contract.class_type);
    if (e && e->plugin_path == path) nodes_[d.contract.class_type] = std::move(d);
  }
  for (auto& d : reg.schedules) {
    const RegistryName* n = catalogue().find_schedule(d.name);
    if (n && n->plugin_path == path) schedules_[d.name] = std::move(d);
  }
  for (auto& d : reg.samplers) {
    const RegistryName* n = catalogue().find_sampler(d.name);
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
  const CatalogueEntry* e = catalogue().find(class_type);
  if (!e || !ensure_loaded(e->plugin_path).ok()) return nullptr;
  return find_in(nodes_, class_type);
}

const ScheduleDef* PluginHost::schedule(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto* d = find_in(schedules_, name)) return d;
  const RegistryName* n = catalogue().find_schedule(name);
  if (!n || !ensure_loaded(n->plugin_path).ok()) return nullptr;
  return find_in(schedules_, name);
}

const SamplerDef* PluginHost::sampler(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto* d = find_in(samplers_, name)) return d;
  const RegistryName* n = catalogue().find_sampler(name);
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

}  // namespace sf::host
