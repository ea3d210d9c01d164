// SaveSigmas / LoadSigmas: schedules as JSON ({"sigmas": [...]}) or CSV (one value per line), so a
// schedule made here can be used elsewhere (ComfyUI's ManualSigmas, k-diffusion scripts).
#include <ATen/ATen.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "nodes.h"
#include "sigma_file.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/files.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
const In<at::Tensor> kSigmas{Port("sigmas", "SIGMAS")};
const In<std::string> kFilenamePrefix{String("filename_prefix", "sigmas")};
const In<std::string> kPath{String("path", "sigmas.json")};

}  // namespace

NodeDef save_sigmas_node() {
  NodeContract c =
      OutputNode("SaveSigmas", kSigmasCategory,
                 "Writes <output>/<filename_prefix>_NNNNN_.json and .csv (atomically). Values are the float32 SIGMAS, "
                 "printed with 9 significant digits so they read back bit-exact.",
                 {kSigmas, kFilenamePrefix});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto s = diffusion::Sigmas::from_tensor(kSigmas(in)).values();
    const std::string& prefix = kFilenamePrefix(in);
    nlohmann::ordered_json j;
    j["sigmas"] = s;
    j["steps"] = s.empty() ? 0 : static_cast<int64_t>(s.size()) - 1;
    std::ostringstream csv;
    csv.precision(9);
    csv << "sigma\n";
    for (double v : s) csv << v << "\n";
    for (auto [suffix, body] : {std::pair{".json", j.dump(2) + "\n"}, std::pair{".csv", csv.str()}}) {
      auto path = ctx.output_path(prefix, suffix, kFilenamePrefix.name());
      if (!path.ok()) throw InputError(kFilenamePrefix.name(), "\"" + prefix + "\"", path.status().message());
      Status st = write_file_atomic(*path, body);
      if (!st.ok()) throw InputError(kFilenamePrefix.name(), "\"" + prefix + "\"", st.message(), st.code());
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
           {kPath}, {{"SIGMAS", "SIGMAS"}});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    const std::string path = input_path(ctx, in, kPath.name());
    auto text = read_file_bounded(path, kMaxTextFileBytes);
    if (!text.ok()) throw InputError(kPath.name(), "\"" + path + "\"", text.status().message(), text.status().code());
    std::vector<double> s = parse_sigma_file(*text, path, std::filesystem::path(path).extension() == ".json");
    if (s.size() < 2)
      throw InputError(kPath.name(), "\"" + path + "\"",
                       "holds " + std::to_string(s.size()) + " value(s); a schedule needs at least 2 (one step)");
    diffusion::Sigmas(s).check_sampling(kPath.name());
    return Outputs{diffusion::Sigmas(s).to_value()};
  });
}

}  // namespace sf::nodes
