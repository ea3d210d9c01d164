// SaveSigmas / LoadSigmas: schedules as JSON ({"sigmas": [...]}) or CSV (one value per line), so a
// schedule made here can be used elsewhere (ComfyUI's ManualSigmas, k-diffusion scripts).
#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../common/sigmas.h"
#include "../common/text.h"
#include "nodes.h"
#include "sigmaflow/files.h"

namespace sf::nodes {

NodeDef save_sigmas_node() {
  NodeContract c;
  c.class_type = "SaveSigmas";
  c.category = kSigmasCategory;
  c.description = "Writes <output>/<filename_prefix>.json and .csv (atomically). Values are the float32 SIGMAS, "
                  "printed with 9 significant digits so they read back bit-exact.";
  c.inputs = {Port("sigmas", "SIGMAS"), String("filename_prefix", "sigmas")};
  c.output_node = true;
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto s = sigmas_vector(in.get_tensor("sigmas"));
    const std::string& prefix = in.get_string("filename_prefix");
    std::string base = output_path(ctx, prefix, "");
    nlohmann::ordered_json j;
    j["sigmas"] = s;
    j["steps"] = s.empty() ? 0 : static_cast<int64_t>(s.size()) - 1;
    std::ostringstream csv;
    csv.precision(9);
    csv << "sigma\n";
    for (double v : s) csv << v << "\n";
    for (auto [path, body] : {std::pair{base + ".json", j.dump(2) + "\n"}, std::pair{base + ".csv", csv.str()}}) {
      Status st = write_file_atomic(path, body);
      if (!st.ok()) throw InputError("filename_prefix", "\"" + prefix + "\"", st.message());
      ctx.record_output(path);
    }
    return Outputs{};
  });
}

NodeDef load_sigmas_node() {
  NodeContract c;
  c.class_type = "LoadSigmas";
  c.category = kSigmasCategory;
  c.description = "Reads a schedule written by SaveSigmas: .json ({\"sigmas\": [...]} or a plain array) or .csv.";
  c.inputs = {String("path", "sigmas.json")};
  c.outputs = {{"SIGMAS", "SIGMAS"}};
  return make_node(c, [](Context&, const Inputs& in) {
    const std::string& path = in.get_string("path");
    std::ifstream f(path);
    if (!f) throw InputError("path", "\"" + path + "\"", "cannot open the file");
    std::stringstream ss;
    ss << f.rdbuf();
    std::string text = ss.str();
    std::vector<double> s;
    if (std::filesystem::path(path).extension() == ".json") {
      auto j = nlohmann::json::parse(text, nullptr, false);
      if (j.is_discarded()) throw InputError("path", "\"" + path + "\"", "not valid JSON");
      if (j.is_object() && j.contains("sigmas")) j = j["sigmas"];
      if (!j.is_array()) throw InputError("path", "\"" + path + "\"", "expected {\"sigmas\": [...]} or an array");
      for (const auto& v : j) {
        if (!v.is_number()) throw InputError("path", "\"" + path + "\"", "non-numeric entry " + v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        s.push_back(v.get<double>());
      }
    } else {
      std::istringstream lines(text);
      std::string line;
      int lineno = 0;
      while (std::getline(lines, line)) {
        ++lineno;
        if (line.empty() || line == "sigma" || line == "\r") continue;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        double v = 0;
        if (!parse_number(line, v))
          throw InputError("path", "\"" + path + "\"", "line " + std::to_string(lineno) + " is not a number: '" + line + "'");
        s.push_back(v);
      }
    }
    check_sampling_sigmas(s, "path");
    return Outputs{sigmas_value(s)};
  });
}

}  // namespace sf::nodes
