// Small text helpers for node inputs typed by hand (lists of names or numbers) and output names.
#pragma once

#include <string>
#include <vector>

#include "sigmaflow/node.h"

namespace sf::nodes {

// Splits on commas, semicolons, whitespace and brackets; drops empty items.
std::vector<std::string> split_list(const std::string& text);
// Like split_list but keeps empty items between commas (positional lists such as row labels);
// items are trimmed.
std::vector<std::string> split_commas(const std::string& text);
// A whole-string number ("1.5", "2e-3"); false for anything else.
bool parse_number(const std::string& text, double& value);
// <output dir>/<prefix><suffix>, refusing empty, absolute or '..' prefixes (InputError naming
// `input`).
std::string output_path(const Context& ctx, const std::string& prefix, const std::string& suffix,
                        const std::string& input = "filename_prefix");

}  // namespace sf::nodes
