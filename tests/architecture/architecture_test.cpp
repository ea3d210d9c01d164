// The architecture as tests: the floors (plugin_api <- diffusion <- scheduler <- nodes;
// host -> plugin_api), plugins that meet only through the host's registries, and functions of at
// most 80 lines in diffusion/, scheduler/ and nodes/. Both read the source tree.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace {

namespace fs = std::filesystem;
const fs::path kRoot = SF_SOURCE_DIR;

std::string read(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<fs::path> sources(const std::string& top) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(kRoot / top)) {
    auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".cpp" || ext == ".h")) out.push_back(e.path());
  }
  return out;
}

// The floor a file belongs to: its top folder (nodes/<plugin> keeps the plugin folder).
std::string floor_of(const fs::path& file) {
  auto rel = fs::relative(file, kRoot);
  auto it = rel.begin();
  std::string top = it->string();
  if (top == "nodes" && ++it != rel.end()) return "nodes/" + it->string();
  return top;
}

// The floor an include names, seen from `file`; empty for the standard library and third parties.
std::string floor_of_include(const fs::path& file, const std::string& inc) {
  if (inc.rfind("sigmaflow/diffusion/", 0) == 0) return "diffusion";
  if (inc.rfind("sigmaflow/scheduler/", 0) == 0) return "scheduler";
  if (inc.rfind("sigmaflow/", 0) == 0) return "plugin_api";
  fs::path local = fs::weakly_canonical(file.parent_path() / inc);
  if (fs::exists(local)) return floor_of(local);
  for (const char* root : {"host", "tests", "bench"})
    if (fs::exists(kRoot / root / inc)) return root;
  return {};
}

bool allowed(const std::string& from, const std::string& to) {
  if (to.empty() || to == from) return true;
  static const std::map<std::string, std::set<std::string>> below = {
      {"plugin_api", {}},
      {"diffusion", {"plugin_api"}},
      {"scheduler", {"plugin_api", "diffusion"}},
      {"host", {"plugin_api"}},
  };
  if (from.rfind("nodes/", 0) == 0)  // a plugin: the libraries below it and the node kit, no other plugin
    return to == "plugin_api" || to == "diffusion" || to == "scheduler" || to == "nodes/common";
  auto it = below.find(from);
  return it != below.end() && it->second.count(to);
}

TEST(Architecture, FloorsRunOneWayAndPluginsMeetOnlyThroughTheHost) {
  static const std::regex include_re(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
  std::vector<std::string> violations;
  size_t checked = 0;
  for (const char* top : {"plugin_api", "diffusion", "scheduler", "nodes", "host"}) {
    for (const auto& file : sources(top)) {
      std::istringstream lines(read(file));
      std::string line;
      while (std::getline(lines, line)) {
        std::smatch m;
        if (!std::regex_search(line, m, include_re)) continue;
        ++checked;
        std::string from = floor_of(file), to = floor_of_include(file, m[1]);
        if (!allowed(from, to))
          violations.push_back(fs::relative(file, kRoot).string() + " (" + from + ") includes " + m[1].str() + " (" +
                               to + ")");
      }
    }
  }
  EXPECT_GT(checked, 300u);
  for (const auto& v : violations) ADD_FAILURE() << v;
}

TEST(Architecture, TheFloorRuleRefusesWhatTheDesignForbids) {
  EXPECT_TRUE(allowed("scheduler", "diffusion"));
  EXPECT_FALSE(allowed("diffusion", "scheduler"));
  EXPECT_FALSE(allowed("host", "diffusion"));
  EXPECT_FALSE(allowed("nodes/ab", "nodes/sampling"));
  EXPECT_TRUE(allowed("nodes/ab", "nodes/common"));
  EXPECT_FALSE(allowed("scheduler", "nodes/common"));
  EXPECT_EQ(floor_of_include(kRoot / "nodes/ab/x.cpp", "../sampling/nodes.h"), "nodes/sampling");
}

// Source text with comments, string and character literals blanked (newlines kept).
std::string code_only(const std::string& s) {
  std::string out = s;
  enum { kCode, kLine, kBlock, kString, kChar, kRaw } st = kCode;
  std::string raw_end;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i], n = i + 1 < s.size() ? s[i + 1] : '\0';
    switch (st) {
      case kCode:
        if (c == '/' && n == '/')
          st = kLine;
        else if (c == '/' && n == '*')
          st = kBlock;
        else if (c == 'R' && n == '"' && (i == 0 || !std::isalnum(static_cast<unsigned char>(s[i - 1])))) {
          size_t open = s.find('(', i);
          raw_end = ")" + s.substr(i + 2, open - i - 2) + "\"";
          st = kRaw;
          i = open;
          continue;
        } else if (c == '"')
          st = kString;
        else if (c == '\'' && !(i > 0 && std::isdigit(static_cast<unsigned char>(s[i - 1]))))
          st = kChar;
        continue;
      case kLine:
        if (c == '\n') st = kCode;
        break;
      case kBlock:
        if (c == '*' && n == '/') {
          out[i] = out[i + 1] = ' ';
          ++i;
          st = kCode;
          continue;
        }
        break;
      case kString:
      case kChar:
        if (c == '\\') {
          out[i] = ' ';
          if (n != '\n') out[i + 1] = ' ';
          ++i;
          continue;
        }
        if (c == (st == kString ? '"' : '\'')) {
          st = kCode;
          continue;
        }
        break;
      case kRaw:
        if (s.compare(i, raw_end.size(), raw_end) == 0) {
          i += raw_end.size() - 1;
          st = kCode;
          continue;
        }
        break;
    }
    if (c != '\n') out[i] = ' ';
  }
  return out;
}

// Outermost function bodies (lambdas inside count towards their function): a '{' after ')' (and
// qualifiers) at namespace or class level, not after a control keyword.
std::vector<std::pair<int, int>> function_spans(const std::string& code) {
  static const std::regex head_re(R"(\)\s*(const|noexcept|override|final|mutable|->\s*[\w:<>,\s*&]+|\s)*$)");
  static const std::regex control_re(R"((^|[^\w])(if|for|while|switch|catch)\s*\([^;{}]*\)\s*$)");
  std::vector<std::pair<int, int>> spans;
  std::vector<bool> is_function;  // per open brace
  size_t segment = 0;
  int line = 1, start_line = 0, depth_in_function = -1;
  for (size_t i = 0; i < code.size(); ++i) {
    char c = code[i];
    if (c == '\n') ++line;
    if (c == '{') {
      std::string head = code.substr(segment, i - segment);
      bool fn = depth_in_function < 0 && std::regex_search(head, head_re) && !std::regex_search(head, control_re);
      if (fn) {
        depth_in_function = static_cast<int>(is_function.size());
        start_line = line;
      }
      is_function.push_back(fn);
      segment = i + 1;
    } else if (c == '}') {
      if (!is_function.empty()) {
        if (static_cast<int>(is_function.size()) - 1 == depth_in_function) {
          spans.push_back({start_line, line});
          depth_in_function = -1;
        }
        is_function.pop_back();
      }
      segment = i + 1;
    } else if (c == ';') {
      segment = i + 1;
    }
  }
  return spans;
}

TEST(Architecture, NoFunctionOver80LinesInTheLibrariesAndNodes) {
  size_t functions = 0;
  for (const char* top : {"diffusion", "scheduler", "nodes"}) {
    for (const auto& file : sources(top)) {
      for (auto [first, last] : function_spans(code_only(read(file)))) {
        ++functions;
        if (last - first + 1 > 80)
          ADD_FAILURE() << fs::relative(file, kRoot).string() << ":" << first << ": a function of " << last - first + 1
                        << " lines (at most 80)";
      }
    }
  }
  EXPECT_GT(functions, 200u);
}

// The classes a library declares in its public headers.
std::set<std::string> declared_classes(const std::string& top) {
  static const std::regex class_re(
      R"(\b(?:class|struct)\s+(?:SF_SHARED\s+|__attribute__\(\([^)]*\)\)\s+)?(\w+)\s*(?:final\s*)?[:{])");
  std::set<std::string> names;
  for (const auto& file : sources(top + "/include")) {
    const std::string code = code_only(read(file));
    for (std::sregex_iterator it(code.begin(), code.end(), class_re), end; it != end; ++it) names.insert((*it)[1]);
  }
  return names;
}

// A capability is asked through an interface (Sampler::step_form(), Model::exact()) or through a
// function of the library that owns the class, never by casting to a diffusion/ or scheduler/
// class from another floor: such casts cross shared libraries on types that are not exported.
TEST(Architecture, NoDynamicCastToALibraryClassOutsideItsLibrary) {
  static const std::regex cast_re(R"(dynamic(?:_pointer)?_cast\s*<\s*(?:const\s+)?([\w:]+))");
  size_t casts = 0;
  for (const char* owner : {"diffusion", "scheduler"}) {
    const std::set<std::string> owned = declared_classes(owner);
    EXPECT_GT(owned.size(), 10u) << owner;
    for (const char* top : {"plugin_api", "diffusion", "scheduler", "nodes", "host", "samples"}) {
      if (std::string(top) == owner) continue;
      for (const auto& file : sources(top)) {
        const std::string code = code_only(read(file));
        for (std::sregex_iterator it(code.begin(), code.end(), cast_re), end; it != end; ++it) {
          ++casts;
          std::string type = (*it)[1];
          type = type.substr(type.rfind(':') == std::string::npos ? 0 : type.rfind(':') + 1);
          if (owned.count(type))
            ADD_FAILURE() << fs::relative(file, kRoot).string() << " casts to " << (*it)[1] << ", a class of " << owner
                          << "/; ask an interface or a function of " << owner << "/ instead";
        }
      }
    }
  }
  EXPECT_GT(casts, 0u);  // the scan sees casts (e.g. to sf::Model in the host)
}

TEST(Architecture, TheCastRuleKnowsTheLibrariesClasses) {
  const auto diffusion = declared_classes("diffusion"), scheduler = declared_classes("scheduler");
  EXPECT_TRUE(diffusion.count("GuidedModel"));
  EXPECT_TRUE(diffusion.count("TableSampler"));
  EXPECT_TRUE(scheduler.count("OptimalStepsDiagnostics"));
  EXPECT_FALSE(diffusion.count("Model"));  // plugin_api's, free to cast to
}

TEST(Architecture, TheSpanFinderSeesFunctionsNotBlocks) {
  std::string code = code_only(
      "namespace a {\nstruct S {\n  int f() const {\n    if (x) {\n    }\n    return 1;\n  }\n};\n"
      "int g(int x) {\n  auto h = [](int y) { return y; };\n  for (;;) {\n  }\n  return \"}\" [0];\n}\n}  // namespace "
      "a\n");
  auto spans = function_spans(code);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0], std::make_pair(3, 7));
  EXPECT_EQ(spans[1], std::make_pair(9, 14));
}

}  // namespace
