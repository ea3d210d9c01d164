#include "text.h"

#include "sigmaflow/number_list.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "sigmaflow/status.h"

namespace sf::nodes {

std::vector<std::string> split_list(const std::string& text) { return split_number_items(text); }

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : text + ",") {
    if (ch != ',') {
      cur += ch;
      continue;
    }
    size_t b = cur.find_first_not_of(" \t"), e = cur.find_last_not_of(" \t");
    out.push_back(b == std::string::npos ? std::string() : cur.substr(b, e - b + 1));
    cur.clear();
  }
  return out;
}

bool parse_number(const std::string& text, double& value) { return parse_decimal(text, value); }

std::vector<int64_t> parse_shape(const std::string& text, const std::string& input) {
  std::vector<int64_t> shape;
  for (const auto& item : split_list(text)) {
    double v = 0;
    if (!parse_number(item, v) || v < 1 || v != std::floor(v) || v > 1e9)
      throw InputError(input, "\"" + text.substr(0, 200) + "\"", "'" + item.substr(0, 40) + "' is not a dimension");
    shape.push_back(static_cast<int64_t>(v));
  }
  return shape;
}

}  // namespace sf::nodes
