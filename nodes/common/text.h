// Small text helpers for node inputs typed by hand (lists of names or numbers).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sf::nodes {

// Splits on commas, semicolons, whitespace and brackets; drops empty items.
std::vector<std::string> split_list(const std::string& text);
// Like split_list but keeps empty items between commas (positional lists such as row labels);
// items are trimmed.
std::vector<std::string> split_commas(const std::string& text);
// A whole-string finite decimal number ("1.5", "-2e-3"); false for anything else, including hex
// ("0x10"), "inf" and "nan", which strtod would accept.
bool parse_number(const std::string& text, double& value);
// A shape typed by hand ("4, 64, 64"): positive integers up to 1e9. Throws sf::InputError naming
// `input`; an empty text gives an empty shape.
std::vector<int64_t> parse_shape(const std::string& text, const std::string& input);

}  // namespace sf::nodes
