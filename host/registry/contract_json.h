// Node contracts and registry names as JSON, for the plugin scan cache: the scanner child writes
// what a plugin registers, the host reads it back without loading the plugin. Torch-free.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "registry/catalogue.h"
#include "sigmaflow/contract.h"

namespace sf::host {

nlohmann::json contract_to_json(const NodeContract& c);
// Throws nlohmann::json::exception on a malformed document.
NodeContract contract_from_json(const nlohmann::json& j);

nlohmann::json registry_name_to_json(const RegistryName& n);
RegistryName registry_name_from_json(const nlohmann::json& j);

// Literal <-> JSON (lists as arrays; big unsigned integers kept exact).
nlohmann::json literal_to_json(const Literal& l);
Literal literal_from_json(const nlohmann::json& j);

}  // namespace sf::host
