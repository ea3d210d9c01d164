#include "outputs.h"

namespace sf::nodes {

std::string output_file(Context& ctx, const std::string& prefix, const std::string& suffix, const std::string& input) {
  auto p = ctx.output_path(prefix, suffix, input);
  if (!p.ok()) throw InputError(input, "\"" + prefix.substr(0, 200) + "\"", p.status().message());
  return *p;
}

}  // namespace sf::nodes
