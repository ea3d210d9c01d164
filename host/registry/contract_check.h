// Checks of what plugins declare, before anything is registered. Torch-free.
#pragma once

#include <string>
#include <vector>

#include "registry/catalogue.h"
#include "sigmaflow/contract.h"

namespace sf::host {

// Contract sanity (unique input names, valid type strings, defaults within min/max and in
// choices, known choices_from, typed outputs, well-formed constraints). Returns every problem,
// empty if the contract is sound.
std::vector<std::string> check_contract(const NodeContract& c);

// A type string: "*", or upper-case names ([A-Z][A-Z0-9_]*) separated by commas.
bool valid_type_string(const std::string& type);

// Port types of `c` (inputs linked from outputs, outputs) that no node of `catalogue` produces or
// consumes, each with the nearest known type: "SIGMSA (did you mean SIGMAS?)". Literal types are
// always known.
std::vector<std::string> unknown_port_types(const NodeContract& c, const Catalogue& catalogue);

// Levenshtein distance, and the candidate nearest to `word` within `max_distance` (empty if none).
size_t edit_distance(const std::string& a, const std::string& b);
std::string nearest(const std::string& word, const std::vector<std::string>& candidates, size_t max_distance);

}  // namespace sf::host
