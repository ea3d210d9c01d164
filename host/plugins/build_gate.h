// The build gate: what a plugin must have been built like to be loaded into this host, checked
// from its build record before any of its code runs.
#pragma once

#include <optional>
#include <string>

#include "sigmaflow/build_record.h"
#include "sigmaflow/status.h"

namespace sf::host {

// The host's own build record (what plugins must match).
const sf_build_record& host_build_record();

// Checks a plugin's record against the host's. The message names both values.
Status check_build_record(const sf_build_record& plugin, const sf_build_record& host);

// Reads the record from the plugin file's ELF section SIGMAFLOW_RECORD_SECTION without loading
// it. nullopt when the file has no such section (not a plugin, or a plugin of API major 1, which
// had none); an error Status when the file is not a readable ELF shared object.
Result<std::optional<sf_build_record>> read_build_record(const std::string& path);

// A record field as a string (the fields are fixed-size, not necessarily NUL-terminated).
std::string record_string(const char* field, size_t size);

}  // namespace sf::host
