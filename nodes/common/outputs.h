// Output file paths for node inputs named filename_prefix.
#pragma once

#include <string>

#include "sigmaflow/node.h"

namespace sf::nodes {

// ctx.output_path(prefix, suffix, input), throwing sf::InputError about `input` on a bad prefix.
std::string output_file(Context& ctx, const std::string& prefix, const std::string& suffix,
                        const std::string& input = "filename_prefix");

}  // namespace sf::nodes
