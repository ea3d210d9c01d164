#include "text.h"

namespace sf::nodes {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : text + ",") {
    if (ch == ',' || ch == ';' || ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r' || ch == '[' || ch == ']') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  return out;
}

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

bool parse_number(const std::string& text, double& value) {
  if (text.empty()) return false;
  try {
    size_t pos = 0;
    value = std::stod(text, &pos);
    return pos == text.size();
  } catch (...) {
    return false;
  }
}

std::string output_path(const Context& ctx, const std::string& prefix, const std::string& suffix, const std::string& input) {
  if (prefix.empty() || prefix.front() == '/' || prefix.find("..") != std::string::npos)
    throw InputError(input, "\"" + prefix + "\"", "must be a non-empty relative name without '..'");
  return ctx.output_dir() + "/" + prefix + suffix;
}

}  // namespace sf::nodes
