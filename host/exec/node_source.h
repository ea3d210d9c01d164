// Where the executor finds what it runs: the catalogue it validated against, and the node,
// schedule and sampler definitions (PluginHost loads their plugins on first use).
#pragma once

#include <string>

#include "registry/catalogue.h"
#include "sigmaflow/node.h"

namespace sf::host {

class NodeSource {
 public:
  virtual ~NodeSource() = default;
  virtual const Catalogue& catalogue() const = 0;
  virtual const NodeDef* node(const std::string& class_type) const = 0;
  virtual const ScheduleDef* schedule(const std::string& name) const = 0;
  virtual const SamplerDef* sampler(const std::string& name) const = 0;
  // Why the plugin at `path` could not be loaded (empty if it was).
  virtual std::string load_problem(const std::string& plugin_path) const = 0;
};

}  // namespace sf::host
