// The catalogue: every node contract the plugins offer, plus the named schedule and sampler
// registries that fill "choices_from" COMBO inputs, each name with the plugin that provides it.
// Built from the plugin scanner's cached contracts, so validation and `nodes` load no plugin.
// Torch-free, so validation and its tests build without LibTorch.
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
  std::string overridden;  // "<plugin> (<path>)" whose entry this one replaced, if any
};

struct RegistryName {
  std::string name;
  std::string description;
  std::string plugin, plugin_path;
  std::string overridden;      // "<plugin> (<path>)" whose name this one replaced, if any
  bool overrides = false;      // its plugin declared it replaces an earlier one of this name
  SamplerTraits traits;        // samplers
  bool sampler_aware = false;  // schedules
  bool fixed_length = true;    // schedules: exactly steps + 1 values
};

class Catalogue {
 public:
  // Adds or replaces (the caller resolved clashes) the entry of a class_type.
  void put(CatalogueEntry entry);
  void put_schedule(RegistryName name);
  void put_sampler(RegistryName name);

  const CatalogueEntry* find(const std::string& class_type) const;
  const std::map<std::string, CatalogueEntry>& entries() const { return entries_; }
  const RegistryName* find_schedule(const std::string& name) const;
  const RegistryName* find_sampler(const std::string& name) const;
  std::vector<std::string> schedule_names() const;
  std::vector<std::string> sampler_names() const;
  // Samplers with a trait filter: "" (all), "stochastic", "deterministic", "multistep".
  std::vector<std::string> sampler_names(const std::string& filter) const;

  // Fills COMBO inputs that declare choices_from with the registry names. Call after all
  // plugins are in.
  void expand_registry_choices();

  // ComfyUI /object_info-shaped JSON of the whole catalogue.
  std::string object_info_json(int indent = 2) const;
  // One class's object_info entry (empty when unknown).
  std::string object_info_json(const std::string& class_type, int indent) const;
  // One input's object_info description, [type or choices, {default, min, ...}] as JSON text
  // (ComfyUI's input_config; empty when the class or input is unknown).
  std::string input_config_json(const std::string& class_type, const std::string& input) const;

 private:
  std::map<std::string, CatalogueEntry> entries_;
  std::vector<RegistryName> schedules_;  // in registration order
  std::vector<RegistryName> samplers_;
};

}  // namespace sf::host
