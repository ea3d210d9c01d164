// The catalogue: every node contract the loaded plugins offer, plus the named schedule and
// sampler registries that fill "choices_from" COMBO inputs. Torch-free, so validation and its
// tests build without LibTorch.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sigmaflow/contract.h"

namespace sf::host {

struct CatalogueEntry {
  NodeContract contract;  // with choices_from already expanded into choices
  std::string plugin;     // plugin name
  std::string plugin_path;
};

class Catalogue {
 public:
  // Returns false (and leaves the first entry) if the class_type is already present.
  bool add(NodeContract contract, std::string plugin, std::string plugin_path);
  void add_schedule_name(const std::string& name);
  void add_sampler_name(const std::string& name);

  const CatalogueEntry* find(const std::string& class_type) const;
  const std::map<std::string, CatalogueEntry>& entries() const { return entries_; }
  const std::vector<std::string>& schedule_names() const { return schedules_; }
  const std::vector<std::string>& sampler_names() const { return samplers_; }

  // Fills COMBO inputs that declare choices_from with the registry names. Call after all
  // plugins are loaded.
  void expand_registry_choices();

  // ComfyUI /object_info-shaped JSON of the whole catalogue.
  std::string object_info_json(int indent = 2) const;

 private:
  std::map<std::string, CatalogueEntry> entries_;
  std::vector<std::string> schedules_;
  std::vector<std::string> samplers_;
};

}  // namespace sf::host
