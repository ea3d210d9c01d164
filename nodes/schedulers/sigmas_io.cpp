// SaveSigmas / LoadSigmas: schedules as JSON ({"sigmas": [...]}) or CSV (one value per line), so a
// schedule made here can be used elsewhere (ComfyUI's ManualSigmas, k-diffusion scripts).
#include <ATen/ATen.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../common/text.h"
#include "nodes.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/files.h"

namespace sf::nodes {

namespace {

std::vector<double> parse_json_sigmas(const std::string& text, const std::string& path) {
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

NodeDef save_sigmas_node() {
  NodeContract c =
      OutputNode("SaveSigmas", kSigmasCategory,
                 "Writes <output>/<filename_prefix>_NNNNN_.json and .csv (atomically). Values are the float32 SIGMAS, "
                 "printed with 9 significant digits so they read back bit-exact.",
                 {Port("sigmas", "SIGMAS"), String("filename_prefix", "sigmas")});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto s = diffusion::Sigmas::from_tensor(in.get_tensor("sigmas")).values();
    const std::string& prefix = in.get_string("filename_prefix");
    nlohmann::ordered_json j;
    j["sigmas"] = s;
    j["steps"] = s.empty() ? 0 : static_cast<int64_t>(s.size()) - 1;
    std::ostringstream csv;
    csv.precision(9);
    csv << "sigma\n";
    for (double v : s) csv << v << "\n";
    for (auto [suffix, body] : {std::pair{".json", j.dump(2) + "\n"}, std::pair{".csv", csv.str()}}) {
      auto path = ctx.output_path(prefix, suffix, "filename_prefix");
      if (!path.ok()) throw InputError("filename_prefix", "\"" + prefix + "\"", path.status().message());
      Status st = write_file_atomic(*path, body);
      if (!st.ok()) throw InputError("filename_prefix", "\"" + prefix + "\"", st.message(), st.code());
      ctx.record_output(*path);
    }
    return Outputs{};
  });
}

NodeDef load_sigmas_node() {
  NodeContract c =
      Node("LoadSigmas", kSigmasCategory,
           "Reads a schedule written by SaveSigmas: .json ({\"sigmas\": [...]} or a plain array) or .csv. It "
           "must hold at least 2 values (one step).",
           {String("path", "sigmas.json")}, {{"SIGMAS", "SIGMAS"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    const std::string path = input_path(ctx, in, "path");
    auto text = read_file_bounded(path, kMaxTextFileBytes);
    if (!text.ok()) throw InputError("path", "\"" + path + "\"", text.status().message(), text.status().code());
    std::vector<double> s = std::filesystem::path(path).extension() == ".json" ? parse_json_sigmas(*text, path)
                                                                               : parse_csv_sigmas(*text, path);
    if (s.size() < 2)
      throw InputError("path", "\"" + path + "\"",
                       "holds " + std::to_string(s.size()) + " value(s); a schedule needs at least 2 (one step)");
    diffusion::Sigmas(s).check_sampling("path");
    return Outputs{diffusion::Sigmas(s).to_value()};
  });
}

}  // namespace sf::nodes
