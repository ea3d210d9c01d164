// libFuzzer target for the small files users or other processes control besides data: sigma
// list files (LoadSigmas: JSON and CSV), the JSON depth bound every such reader applies first, and
// the score-optimal cost cache (a file a crashed run or another user may have left). The first
// byte picks the reader; the rest is the file.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "../nodes/schedulers/sigma_file.h"
#include "sigmaflow/json_depth.h"
#include "sigmaflow/scheduler/score_optimal/cost_cache.h"
#include "sigmaflow/status.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0:
    case 1:
      try {
        auto s = sf::nodes::parse_sigma_file(bytes, "fuzz", data[0] % 4 == 0);
        (void)s.size();
      } catch (const sf::InputError&) {
      }
      break;
    case 2: {
      const size_t d = sf::json_nesting_depth(bytes);
      if (d > sf::kMaxJsonFileDepth + 1) __builtin_trap();  // the scan must stop counting
      break;
    }
    default: {  // the cost cache, from a file under a private folder
      static const std::string dir = "/tmp/sigmaflow-fuzz-cache-" + std::to_string(getpid());
      const std::string key = "fuzz-key";
      const std::string file = sf::so::cache_file(dir, key);
      std::filesystem::create_directories(std::filesystem::path(file).parent_path());
      std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
      std::string why;
      auto e = sf::so::load_cached(dir, key, 16, &why);
      if (e) (void)sf::so::check_estimate(*e, 16);
      break;
    }
  }
  return 0;
}
