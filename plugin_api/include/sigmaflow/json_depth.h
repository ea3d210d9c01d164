// A bound on the nesting of JSON read from files users or other processes control (sigma lists,
// caches, metadata): readers refuse deeper text before parsing it, because a file of 10^5 '['
// crashed the recursive parts of a JSON reader (LoadSigmas: SIGSEGV). Header-only, torch-free.
#pragma once

#include <cstddef>
#include <string_view>

namespace sf {

// Deep enough for every format written here (a sigma list nests 2 levels, caches 4).
inline constexpr size_t kMaxJsonFileDepth = 64;

// The deepest nesting of '[' and '{' in `text`, outside strings, in one linear pass; stops
// counting once it passes `stop_above` (the answer is then stop_above + 1).
inline size_t json_nesting_depth(std::string_view text, size_t stop_above = kMaxJsonFileDepth) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > stop_above) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace sf
