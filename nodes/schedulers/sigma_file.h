// The text of a sigma list file (LoadSigmas): JSON ({"sigmas": [...]} or a bare array) or CSV (one
// value per line, an optional "sigma" header). Torch-free, so fuzz/fuzz_files.cpp reads it alone.
#pragma once

#include <string>
#include <vector>

namespace sf::nodes {

// The values in `text` (the file `path`, JSON when `json`). Throws sf::InputError about "path"
// naming the file and what is wrong: malformed or too deeply nested JSON, a non-numeric entry or
// line. Does not check the schedule itself (LoadSigmas does).
std::vector<double> parse_sigma_file(const std::string& text, const std::string& path, bool json);

}  // namespace sf::nodes
