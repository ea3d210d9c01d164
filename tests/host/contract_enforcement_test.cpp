// What the host enforces on plugins, whoever wrote them: checked sampler and schedule returns,
// inputs that must not be written in place, a fatal signal inside a node, and name resolution
// that is the same in the NodeRunner harness and the CLI.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <type_traits>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sigmaflow/ports.h"
#include "sigmaflow/testing/node_runner.h"

namespace sf {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) { return std::string(SF_FIXTURE_DIR) + "/" + name; }

testing::NodeRunner& runner() {
  static testing::NodeRunner r({SF_PLUGIN_DIR, fixture("misbehaving")});
  return r;
}

std::string ksampler_graph(const std::string& sampler, const std::string& scheduler = "karras") {
  return R"({"m": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8", "dtype": "float64"}},
             "l": {"class_type": "EmptyLatent", "inputs": {"model": ["m", 0], "batch_size": 4}},
             "k": {"class_type": "KSampler", "inputs": {"model": ["m", 0], "seed": 1, "steps": 5, "sampler_name": ")" +
         sampler + R"(", "scheduler": ")" + scheduler + R"(", "latent_image": ["l", 0], "denoise": 1.0}},
             "s": {"class_type": "SaveLatent", "inputs": {"samples": ["k", 0], "filename_prefix": "enforce/out"}}})";
}

TEST(ContractEnforcement, SamplerReturnsAreCheckedNamingSamplerAndPlugin) {
  struct Case {
    const char* sampler;
    const char* message;
  } cases[] = {{"bad_batch", "returned shape [1, 2] for a start state of shape [4, 2]"},
               {"bad_flat", "returned shape [8] for a start state of shape [4, 2]"},
               {"bad_dtype", "returned dtype Float for a start state of dtype Double"},
               {"bad_nan", "returned NaN or Inf values"}};
  for (const auto& c : cases) {
    auto r = runner().run_graph(ksampler_graph(c.sampler));
    ASSERT_FALSE(r.ok) << c.sampler;
    EXPECT_EQ(r.error_kind, "execution");
    EXPECT_NE(r.error.find("node k (KSampler, plugin sampling)"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find(std::string("sampler '") + c.sampler + "' (plugin fixture_misbehaving)"), std::string::npos)
        << r.error;
    EXPECT_NE(r.error.find(c.message), std::string::npos) << r.error;
    EXPECT_TRUE(r.files.empty()) << "nothing is saved after a failed sampler";
  }
}

TEST(ContractEnforcement, ScheduleWithoutTheTrailingZeroIsRefused) {
  auto r = runner().run_graph(ksampler_graph("euler", "no_zero"));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error_input, "scheduler");
  EXPECT_NE(r.error.find("schedule 'no_zero' (plugin fixture_misbehaving) returned an invalid 5-step schedule"),
            std::string::npos)
      << r.error;
  EXPECT_NE(r.error.find("must end in 0"), std::string::npos) << r.error;
}

TEST(ContractEnforcement, WritingAnInputInPlaceFailsTheNode) {
  auto r = runner().run_graph(R"({
    "m": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8"}},
    "d": {"class_type": "SampleData", "inputs": {"model": ["m", 0], "n": 8}},
    "x": {"class_type": "InPlaceDouble", "inputs": {"samples": ["d", 0]}},
    "s": {"class_type": "SaveLatent", "inputs": {"samples": ["x", 0], "filename_prefix": "enforce/inplace"}}})");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error,
            "node x (InPlaceDouble, plugin fixture_misbehaving) modified its input 'samples' in place (inputs "
            "are shared with other nodes and must not be written)");
}

struct Cmd {
  int rc;
  std::string out;
};
Cmd cli(const std::string& args) {
  std::string cmd = "SIGMAFLOW_CACHE_DIR=" + (fs::temp_directory_path() / "sigmaflow-enforce-cache").string() + " " +
                    SF_SIGMAFLOW_EXE + " " + args + " 2>&1";
  Cmd c{0, ""};
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) c.out.append(buf.data(), n);
  int status = pclose(p);
  c.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return c;
}
std::string write_graph(const std::string& name, const std::string& text) {
  fs::path dir = fs::temp_directory_path() / "sigmaflow-enforce";
  fs::create_directories(dir);
  std::ofstream((dir / name).string()) << text;
  return (dir / name).string();
}

TEST(ContractEnforcement, FatalSignalInsideANodeNamesItAndExitsWith4) {
  fs::path out = fs::temp_directory_path() / "sigmaflow-enforce-out";
  fs::remove_all(out);
  auto c =
      cli("run " + write_graph("crash.json", R"({"1": {"class_type": "SegfaultInExecute", "inputs": {"value": 1}}})") +
          " --out " + out.string() + " --plugins " + fixture("misbehaving"));
  EXPECT_EQ(c.rc, 4) << c.out;
  // The node's crash note (sigmaflow/crash_note.h) names the input to blame.
  EXPECT_NE(c.out.find("fatal signal SIGSEGV (segmentation fault) while running node 1 (SegfaultInExecute, plugin "
                       "fixture_misbehaving): input 'value': a library crashed on it"),
            std::string::npos)
      << c.out;
  EXPECT_FALSE(fs::exists(out)) << "nothing was written, so no output folder";
}

// Which karras ran: a 3-step schedule's middle value tells rho 7 (stock) from rho 3 (override).
double middle_sigma(const fs::path& json_file) {
  auto j = nlohmann::json::parse(std::ifstream(json_file.string()));
  return j["sigmas"][1].get<double>();
}

TEST(ContractEnforcement, NameClashesResolveTheSameInTheHarnessAndTheCli) {
  const char* graph =
      R"({"1": {"class_type": "KarrasScheduler", "inputs": {"steps": 3, "sigma_max": 10, "sigma_min": 0.1}},
                          "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": "k"}}})";
  const double rho7 = std::pow((std::pow(10.0, 1 / 7.0) + std::pow(0.1, 1 / 7.0)) / 2, 7.0);
  const double rho3 = std::pow((std::pow(10.0, 1 / 3.0) + std::pow(0.1, 1 / 3.0)) / 2, 3.0);
  // Without overrides the stock node stays, whatever the folder order, and the clash is reported.
  testing::NodeRunner clash({fixture("clash"), SF_PLUGIN_DIR});
  EXPECT_EQ(clash.provider("KarrasScheduler"), "schedulers");
  fs::path out = fs::temp_directory_path() / "sigmaflow-enforce-clash";
  fs::remove_all(out);
  auto c = cli("run " + write_graph("karras.json", graph) + " --out " + out.string() + " --overwrite --plugins " +
               fixture("clash"));
  ASSERT_EQ(c.rc, 0) << c.out;
  EXPECT_NE(c.out.find("class_type 'KarrasScheduler' is already provided by plugin 'schedulers'"), std::string::npos)
      << c.out;
  EXPECT_NEAR(middle_sigma(out / "k.json"), rho7, 1e-5);
  auto v = cli("validate " + write_graph("karras.json", graph) + " --plugins " + fixture("clash"));
  EXPECT_EQ(v.rc, 0);
  EXPECT_NE(v.out.find("is refused for it"), std::string::npos) << v.out;
  // With overrides the plugin's node runs, and validate and run say which plugin provides it.
  testing::NodeRunner over({SF_PLUGIN_DIR, fixture("override")});
  EXPECT_EQ(over.provider("KarrasScheduler"), "fixture_override");
  auto o = cli("run " + write_graph("karras.json", graph) + " --out " + out.string() + " --overwrite --plugins " +
               fixture("override"));
  ASSERT_EQ(o.rc, 0) << o.out;
  EXPECT_NE(o.out.find("note: KarrasScheduler is provided by plugin 'fixture_override'"), std::string::npos) << o.out;
  EXPECT_NEAR(middle_sigma(out / "k.json"), rho3, 1e-5);
  auto ov = cli("validate " + write_graph("karras.json", graph) + " --plugins " + fixture("override"));
  EXPECT_NE(ov.out.find("overriding plugin 'schedulers'"), std::string::npos) << ov.out;
}

// API 3.3 typed ports: one declaration is the contract's entry and the typed reader.
class Token : public Object {
 public:
  explicit Token(int v) : v_(v) {}
  std::string type_name() const override { return "TOKEN"; }
  int v() const { return v_; }

 private:
  int v_;
};

TEST(Ports, OneDeclarationIsTheSpecAndTheTypedReader) {
  const In<int64_t> steps{Int("steps", 20, 1, 100)};
  const In<uint64_t> seed{Seed("seed")};
  const In<double> denoise{Float("denoise", 1.0, 0.0, 1.0)};
  const In<bool> flag{Bool("flag", false)};
  const In<std::string> kind{Combo("kind", {"a", "b"})};
  const In<Token> token{Optional(Port("token", "TOKEN"))};
  const std::vector<InputSpec> specs = {steps, seed, denoise, flag, kind, token};
  ASSERT_EQ(specs.size(), 6u);
  EXPECT_EQ(specs[0].name, "steps");
  EXPECT_EQ(specs[0].max, 100.0);
  EXPECT_TRUE(specs[5].optional);
  static_assert(std::is_same_v<decltype(steps(std::declval<const Inputs&>())), int64_t>);
  static_assert(std::is_same_v<decltype(kind(std::declval<const Inputs&>())), const std::string&>);
  static_assert(std::is_same_v<decltype(token(std::declval<const Inputs&>())), std::shared_ptr<const Token>>);

  Inputs in;
  in.set("steps", Value("INT", Literal(int64_t{12})));
  in.set("seed", Value("INT", Literal(uint64_t{18446744073709551615ULL})));
  in.set("denoise", Value("FLOAT", Literal(0.5)));
  in.set("flag", Value("BOOLEAN", Literal(true)));
  in.set("kind", Value("COMBO", Literal("b")));
  EXPECT_EQ(steps(in), 12);
  EXPECT_EQ(seed(in), 18446744073709551615ULL);
  EXPECT_EQ(denoise(in), 0.5);
  EXPECT_TRUE(flag(in));
  EXPECT_EQ(kind(in), "b");
  // An optional object left unconnected: null from get_if, an error naming it from operator().
  EXPECT_FALSE(token.given(in));
  EXPECT_EQ(token.get_if(in), nullptr);
  try {
    (void)token(in);
    ADD_FAILURE() << "a missing input was read";
  } catch (const InputError& e) {
    EXPECT_EQ(e.input(), "token");
  }
  in.set("token", Value(std::shared_ptr<const Object>(std::make_shared<Token>(7))));
  EXPECT_EQ(token(in)->v(), 7);
  EXPECT_EQ(token.get_if(in)->v(), 7);
}

// `const In<T> kX{kX}` (a typo'd replacement of the spec by the port's own name) would copy an
// object not yet built and register an input with an empty name; a port that cannot be copied
// makes it a compile error.
static_assert(!std::is_copy_constructible_v<In<int64_t>> && !std::is_copy_assignable_v<In<Model>>,
              "ports are declared once: copying one must not compile");

TEST(Ports, ACxxTypeThatCannotHoldTheSpecIsRefusedWhenBuilt) {
  EXPECT_THROW(In<int64_t>{Float("x", 1.0)}, std::logic_error);
  EXPECT_THROW(In<bool>{Int("x", 1)}, std::logic_error);
  EXPECT_THROW(In<Token>{Int("x", 1)}, std::logic_error);
  EXPECT_THROW(In<std::string>{Port("m", "MODEL")}, std::logic_error);
  EXPECT_NO_THROW(In<double>{Int("x", 1)});  // an INT reads as a double
}

}  // namespace
}  // namespace sf
