#include "sigma_file.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "../common/text.h"
#include "sigmaflow/json_depth.h"
#include "sigmaflow/status.h"

namespace sf::nodes {

namespace {

std::vector<double> parse_json_sigmas(const std::string& text, const std::string& path) {
  if (json_nesting_depth(text) > kMaxJsonFileDepth)
    throw InputError(
        "path", "\"" + path + "\"",
        "the JSON nests deeper than " + std::to_string(kMaxJsonFileDepth) + " levels (a sigma list needs 2)");
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw InputError("path", "\"" + path + "\"", "not valid JSON");
  if (j.is_object() && j.contains("sigmas")) j = j["sigmas"];
  if (!j.is_array()) throw InputError("path", "\"" + path + "\"", "expected {\"sigmas\": [...]} or an array");
  std::vector<double> s;
  for (const auto& v : j) {
    if (!v.is_number())
      throw InputError(
          "path", "\"" + path + "\"",
          "non-numeric entry " + v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).substr(0, 80));
    s.push_back(v.get<double>());
  }
  return s;
}

std::vector<double> parse_csv_sigmas(const std::string& text, const std::string& path) {
  std::vector<double> s;
  std::istringstream lines(text);
  std::string line;
  int lineno = 0;
  while (std::getline(lines, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line == "sigma") continue;
    double v = 0;
    if (!parse_number(line, v))
      throw InputError("path", "\"" + path + "\"",
                       "line " + std::to_string(lineno) + " is not a number: '" + line.substr(0, 80) + "'");
    s.push_back(v);
  }
  return s;
}

}  // namespace

std::vector<double> parse_sigma_file(const std::string& text, const std::string& path, bool json) {
  return json ? parse_json_sigmas(text, path) : parse_csv_sigmas(text, path);
}

}  // namespace sf::nodes
