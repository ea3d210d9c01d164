// `sigmaflow run` under torchrun's environment: two processes on loopback (the test sets RANK,
// WORLD_SIZE, MASTER_ADDR, MASTER_PORT itself) against one process. Sharded sampling and sweeps
// give bit-identical float64 results; only rank 0 writes files; a bad graph fails on every rank;
// a rank that dies makes the other exit with an error naming it; a bad environment is a usage
// error naming the variable.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;

fs::path scratch() {
  static fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("sigmaflow-dist-" + std::to_string(getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

int free_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t n = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &n);
  close(s);
  return ntohs(a.sin_port);
}

// Runs `argv` (execvp: the first item is looked up on PATH) with `env` added, output to `log`.
pid_t start_command(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                    const fs::path& log) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* f = std::fopen(log.c_str(), "w");
    dup2(fileno(f), 1);
    dup2(fileno(f), 2);
    setenv("SIGMAFLOW_CACHE_DIR", (scratch() / "cache").c_str(), 1);
    // Generous: on a busy machine (a second job on the 2 cores) a rank can take tens of seconds to
    // load LibTorch and reach the rendezvous; 30 s failed there. The dying-rank test sets its own.
    setenv("SIGMAFLOW_DIST_TIMEOUT", "600", 1);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Starts `sigmaflow run graph --out out --overwrite` with `env`; output to `log`.
pid_t start(const std::string& graph, const fs::path& out, const std::map<std::string, std::string>& env,
            const fs::path& log) {
  return start_command({SF_SIGMAFLOW_EXE, "run", graph, "--out", out.string(), "--overwrite"}, env, log);
}

// Exit code, or -1 (killed after `timeout_s`).
int finish(pid_t pid, double timeout_s = 600) {
  auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > timeout_s) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Removes the scratch folder after the last test.
class ScratchCleanup : public ::testing::Environment {
 public:
  void TearDown() override { fs::remove_all(scratch()); }
};
const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new ScratchCleanup);

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string write_graph(const std::string& name, const std::string& text) {
  fs::path p = scratch() / name;
  std::ofstream(p) << text;
  return p.string();
}

std::map<std::string, std::string> rank_env(int rank, int world, int port) {
  return {{"RANK", std::to_string(rank)},
          {"WORLD_SIZE", std::to_string(world)},
          {"LOCAL_RANK", std::to_string(rank)},
          {"MASTER_ADDR", "127.0.0.1"},
          {"MASTER_PORT", std::to_string(port)}};
}

const char* kGraph = R"({
  "1": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8", "dtype": "float64"}},
  "3": {"class_type": "ScheduleSweep", "inputs": {"model": ["1", 0], "schedulers": "karras, exponential",
        "samplers": "euler, heun, euler_ancestral", "steps_list": "5, 10", "batch": 999, "seed": 0,
        "reference_steps": 100}},
  "4": {"class_type": "CompareReport", "inputs": {"report": ["3", 0], "filename_prefix": "r"}},
  "5": {"class_type": "EmptyLatent", "inputs": {"model": ["1", 0], "batch_size": 333}},
  "6": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "latent_image": ["5", 0], "steps": 7,
        "sampler_name": "euler_ancestral", "scheduler": "karras", "seed": 4}},
  "7": {"class_type": "SaveLatent", "inputs": {"samples": ["6", 0], "filename_prefix": "lat"}},
  "8": {"class_type": "ScoreOptimalScheduler", "inputs": {"model": ["1", 0], "steps": 10, "grid_size": 64,
        "particles": 64, "use_cache": false}},
  "9": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["8", 0], "filename_prefix": "so"}},
  "10": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "clusters2d", "dtype": "float64"}},
  "11": {"class_type": "ScoreError", "inputs": {"model": ["1", 0], "reference_model": ["10", 0], "samples": 301,
         "bands": 3}},
  "12": {"class_type": "LogLikelihood", "inputs": {"model": ["1", 0], "reference_model": ["10", 0], "samples": 51,
         "steps": 8}},
  "13": {"class_type": "CompareReport", "inputs": {"metric_1": ["11", 0], "metric_2": ["12", 0],
         "filename_prefix": "m"}},
  "14": {"class_type": "SampleData", "inputs": {"model": ["26", 0], "n": 20000, "seed": 5}},
  "15": {"class_type": "SaveLatent", "inputs": {"samples": ["14", 0], "filename_prefix": "data"}},
  "16": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "latent_image": ["5", 0], "steps": 7,
         "sampler_name": "euler", "scheduler": "karras", "seed": 4}},
  "17": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "latent_image": ["5", 0], "steps": 40,
         "sampler_name": "euler", "scheduler": "karras", "seed": 4}},
  "18": {"class_type": "TrajectoryError", "inputs": {"samples": ["16", 0], "reference": ["17", 0]}},
  "19": {"class_type": "SlicedWasserstein", "inputs": {"samples": ["22", 0], "reference_samples": ["14", 0],
         "projections": 64, "seed": 2}},
  "20": {"class_type": "ModeCoverage", "inputs": {"samples": ["14", 0], "model": ["26", 0]}},
  "21": {"class_type": "MeanLogDensity", "inputs": {"samples": ["14", 0], "model": ["26", 0]}},
  "22": {"class_type": "SampleData", "inputs": {"model": ["26", 0], "n": 3000, "seed": 6}},
  "26": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "powerlaw64", "dtype": "float64"}},
  "23": {"class_type": "FrechetDistance", "inputs": {"samples": ["22", 0], "reference_samples": ["14", 0],
         "features": "identity", "seed": 0}},
  "24": {"class_type": "FrechetDistance", "inputs": {"samples": ["22", 0], "reference_samples": ["14", 0],
         "features": "random_relu", "seed": 1}},
  "25": {"class_type": "CompareReport", "inputs": {"metric_1": ["18", 0], "metric_2": ["19", 0],
         "metric_3": ["20", 0], "metric_4": ["21", 0], "metric_5": ["23", 0], "metric_6": ["24", 0],
         "filename_prefix": "m2"}}})";

TEST(Distributed, TwoRanksGiveTheSingleProcessResultsBitForBit) {
  std::string g = write_graph("sweep.json", kGraph);
  fs::path one = scratch() / "one", two = scratch() / "two";
  ASSERT_EQ(finish(start(g, one, {}, scratch() / "one.log")), 0) << read(scratch() / "one.log");
  const int port = free_port();
  pid_t r0 = start(g, two, rank_env(0, 2, port), scratch() / "r0.log");
  pid_t r1 = start(g, two, rank_env(1, 2, port), scratch() / "r1.log");
  EXPECT_EQ(finish(r0), 0) << read(scratch() / "r0.log");
  EXPECT_EQ(finish(r1), 0) << read(scratch() / "r1.log");
  // The sampler node (euler_ancestral: per-step noise), the score-optimal estimate (levels and
  // reverse-process particles shared out) and every sweep metric, bit for bit.
  EXPECT_EQ(read(one / "lat.npy"), read(two / "lat.npy"));
  EXPECT_EQ(read(one / "so.json"), read(two / "so.json"));
  // ScoreError and LogLikelihood, sharded along their samples.
  auto ma = nlohmann::json::parse(read(one / "m.json")), mb = nlohmann::json::parse(read(two / "m.json"));
  ASSERT_EQ(ma["cells"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(ma["cells"][i]["metrics"], mb["cells"][i]["metrics"]) << i;
  // SampleData (20,000 64-D samples: two chunks of 16384, one per rank) and the metric nodes:
  // trajectory error, mode coverage and mean log-density along rows, sliced W2 along its
  // directions, both Frechet distances along blocks of 1024 rows (3 and 20 blocks).
  EXPECT_EQ(read(one / "data.npy"), read(two / "data.npy"));
  auto m2a = nlohmann::json::parse(read(one / "m2.json")), m2b = nlohmann::json::parse(read(two / "m2.json"));
  ASSERT_EQ(m2a["cells"].size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_TRUE(m2a["cells"][i]["metrics"].is_object() && !m2a["cells"][i]["metrics"].empty()) << i;
    EXPECT_EQ(m2a["cells"][i]["metrics"], m2b["cells"][i]["metrics"]) << i;
  }
  EXPECT_NE(read(one / "so.json").find("80"), std::string::npos);
  auto a = nlohmann::json::parse(read(one / "r.json")), b = nlohmann::json::parse(read(two / "r.json"));
  ASSERT_EQ(a["cells"].size(), 12u);
  ASSERT_EQ(a["cells"].size(), b["cells"].size());
  for (size_t i = 0; i < a["cells"].size(); ++i) {
    EXPECT_EQ(a["cells"][i]["schedule"], b["cells"][i]["schedule"]);
    EXPECT_EQ(a["cells"][i]["sampler"], b["cells"][i]["sampler"]);
    EXPECT_EQ(a["cells"][i]["metrics"], b["cells"][i]["metrics"]) << i;
    EXPECT_EQ(a["cells"][i]["sigmas"], b["cells"][i]["sigmas"]) << i;
  }
  // Only rank 0 wrote files, the same files; rank 1 printed nothing.
  std::vector<std::string> fa, fb;
  for (auto& e : fs::directory_iterator(one)) fa.push_back(e.path().filename());
  for (auto& e : fs::directory_iterator(two)) fb.push_back(e.path().filename());
  std::sort(fa.begin(), fa.end());
  std::sort(fb.begin(), fb.end());
  EXPECT_EQ(fa, fb);
  EXPECT_EQ(read(scratch() / "r1.log"), "");
  EXPECT_NE(read(scratch() / "r0.log").find("done in"), std::string::npos);
}

// Runs `graph` on `world` ranks (free loopback port); every rank's exit code must be 0.
void run_ranks(const std::string& graph, const fs::path& out, int world, const std::string& log_prefix) {
  const int port = free_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r)
    pids.push_back(start(graph, out, rank_env(r, world, port), scratch() / (log_prefix + std::to_string(r) + ".log")));
  for (int r = 0; r < world; ++r) {
    fs::path log = scratch() / (log_prefix + std::to_string(r) + ".log");
    EXPECT_EQ(finish(pids[static_cast<size_t>(r)]), 0) << read(log);
  }
}

// The report JSON without its timing fields (they differ between runs).
nlohmann::json untimed(const nlohmann::json& j) {
  if (j.is_object()) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& [k, v] : j.items())
      if (k.find("seconds") == std::string::npos) o[k] = untimed(v);
    return o;
  }
  if (j.is_array()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& v : j) a.push_back(untimed(v));
    return a;
  }
  return j;
}

// The sampler-aware optimiser shares its training noises out in blocks of 64 and sums over them by
// one fixed tree, so 2 and 3 ranks (300 noises = 5 blocks: 3 + 2, and 1 + 2 + 2) give the single
// process's plan bit for bit: every sampler kind (euler: Gram products; heun: two evaluations, the
// ranking particles copied to every rank; dpmpp_2m with the trimmed objective: history and a
// gather of every particle), the schedules, the training error of every N and the NFE.
TEST(Distributed, TheOptimiserGivesTheSingleProcessPlanOnTwoAndThreeRanks) {
  std::string g = write_graph("oss.json", R"({
    "1": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8", "dtype": "float64"}},
    "2": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
    "3": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "heun"}},
    "4": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "dpmpp_2m"}},
    "5": {"class_type": "OptimalStepsScheduler", "inputs": {"model": ["1", 0], "sampler": ["2", 0], "steps": 6,
          "max_steps": 8, "grid_size": 32, "training_noises": 300, "use_cache": false}},
    "6": {"class_type": "OptimalStepsScheduler", "inputs": {"model": ["1", 0], "sampler": ["3", 0], "steps": 6,
          "max_steps": 8, "grid_size": 32, "training_noises": 300, "use_cache": false}},
    "7": {"class_type": "OptimalStepsScheduler", "inputs": {"model": ["1", 0], "sampler": ["4", 0], "steps": 6,
          "max_steps": 8, "grid_size": 32, "training_noises": 300, "use_cache": false, "objective": "trimmed"}},
    "8": {"class_type": "ScoreError", "inputs": {"model": ["1", 0], "reference_model": ["1", 0], "samples": 16,
          "bands": 1}},
    "9": {"class_type": "CompareReport", "inputs": {"metric_1": ["8", 0], "diagnostics": ["5", 1],
          "diagnostics_2": ["6", 1], "filename_prefix": "a"}},
    "10": {"class_type": "CompareReport", "inputs": {"metric_1": ["8", 0], "diagnostics": ["7", 1],
           "filename_prefix": "b"}}})");
  fs::path one = scratch() / "oss_one";
  ASSERT_EQ(finish(start(g, one, {}, scratch() / "oss_one.log")), 0) << read(scratch() / "oss_one.log");
  for (int world : {2, 3}) {
    fs::path out = scratch() / ("oss_" + std::to_string(world));
    run_ranks(g, out, world, "oss_" + std::to_string(world) + "_r");
    for (const char* f : {"a.json", "b.json"}) {
      auto a = nlohmann::json::parse(read(one / f)), b = nlohmann::json::parse(read(out / f));
      ASSERT_EQ(a["diagnostics"].size(), std::string(f) == "a.json" ? 2u : 1u);
      for (size_t k = 0; k < a["diagnostics"].size(); ++k) {
        ASSERT_FALSE(a["diagnostics"][k]["training_error"].empty());
        EXPECT_EQ(untimed(a["diagnostics"][k]), untimed(b["diagnostics"][k])) << f << " " << k << " world " << world;
      }
    }
  }
}

// torchrun itself (Debian's python3-torch, installed by scripts/install-deps.sh), in its two
// launch modes: the static rendezvous, where torchrun's agent hosts the store and every rank joins
// it as a client (TORCHELASTIC_USE_AGENT_STORE), and --standalone (c10d rendezvous; rank 0 hosts
// the store). `--redirects 2 --tee 2`: Debian's torchrun 1.13 under Python 3.11 fails to parse its
// own default "0" for these flags (IntFlag iteration no longer yields NONE); any other value works.
TEST(Distributed, TorchrunLaunchesGiveTheSingleProcessResults) {
  ASSERT_EQ(std::system("command -v torchrun >/dev/null"), 0)
      << "torchrun is not on PATH: scripts/install-deps.sh installs Debian's python3-torch, which provides it";
  std::string g = write_graph("small.json", R"({
    "1": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8", "dtype": "float64"}},
    "3": {"class_type": "ScheduleSweep", "inputs": {"model": ["1", 0], "schedulers": "karras",
          "samplers": "euler, euler_ancestral", "steps_list": "6", "batch": 201, "seed": 3, "reference_steps": 50}},
    "4": {"class_type": "CompareReport", "inputs": {"report": ["3", 0], "filename_prefix": "r"}},
    "5": {"class_type": "EmptyLatent", "inputs": {"model": ["1", 0], "batch_size": 101}},
    "6": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "latent_image": ["5", 0], "steps": 5,
          "sampler_name": "euler_ancestral", "scheduler": "karras", "seed": 9}},
    "7": {"class_type": "SaveLatent", "inputs": {"samples": ["6", 0], "filename_prefix": "lat"}}})");
  fs::path one = scratch() / "small_one";
  ASSERT_EQ(finish(start(g, one, {}, scratch() / "small_one.log")), 0) << read(scratch() / "small_one.log");
  const std::vector<std::vector<std::string>> modes = {
      {"--master_addr", "127.0.0.1", "--master_port", std::to_string(free_port())}, {"--standalone"}};
  for (size_t k = 0; k < modes.size(); ++k) {
    fs::path out = scratch() / ("torchrun" + std::to_string(k)),
             log = scratch() / ("torchrun" + std::to_string(k) + ".log");
    std::vector<std::string> argv = {"torchrun", "--redirects",      "2", "--tee", "2", "--monitor_interval",
                                     "0.2",      "--nproc_per_node", "2"};
    argv.insert(argv.end(), modes[k].begin(), modes[k].end());
    for (const char* a : {"--no_python", SF_SIGMAFLOW_EXE, "run"}) argv.push_back(a);
    for (const std::string& a : {g, std::string("--out"), out.string(), std::string("--overwrite")}) argv.push_back(a);
    ASSERT_EQ(finish(start_command(argv, {}, log)), 0) << modes[k][0] << "\n" << read(log);
    EXPECT_EQ(read(one / "lat.npy"), read(out / "lat.npy")) << modes[k][0];
    auto a = nlohmann::json::parse(read(one / "r.json")), b = nlohmann::json::parse(read(out / "r.json"));
    ASSERT_EQ(a["cells"].size(), 2u);
    for (size_t i = 0; i < 2; ++i) EXPECT_EQ(a["cells"][i]["metrics"], b["cells"][i]["metrics"]) << modes[k][0];
  }
}

TEST(Distributed, ABadGraphFailsOnEveryRankBeforeAnyCollective) {
  std::string g = write_graph("bad.json", R"({"1": {"class_type": "KarrasScheduler", "inputs": {"steps": -3}},
      "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0]}}})");
  const int port = free_port();
  pid_t r0 = start(g, scratch() / "bad", rank_env(0, 2, port), scratch() / "b0.log");
  pid_t r1 = start(g, scratch() / "bad", rank_env(1, 2, port), scratch() / "b1.log");
  EXPECT_EQ(finish(r0, 300), 3);
  EXPECT_EQ(finish(r1, 300), 3);
  EXPECT_NE(read(scratch() / "b0.log").find("steps"), std::string::npos) << read(scratch() / "b0.log");
  EXPECT_NE(read(scratch() / "b1.log").find("steps"), std::string::npos) << read(scratch() / "b1.log");
}

TEST(Distributed, ARankThatDiesMakesTheOthersExitNamingIt) {
  std::string g = write_graph("long.json", R"({
    "1": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8"}},
    "3": {"class_type": "ScheduleSweep", "inputs": {"model": ["1", 0], "schedulers": "karras",
          "samplers": "heun", "steps_list": "10", "batch": 20000, "seed": 0, "reference_steps": 1000}},
    "4": {"class_type": "CompareReport", "inputs": {"report": ["3", 0], "filename_prefix": "r"}}})");
  const int port = free_port();
  // A 30 s collective timeout: a peer that died inside a collective is not always noticed through
  // its closed socket, and then the timeout ends the wait.
  auto env0 = rank_env(0, 2, port), env1 = rank_env(1, 2, port);
  env0["SIGMAFLOW_DIST_TIMEOUT"] = env1["SIGMAFLOW_DIST_TIMEOUT"] = "30";
  pid_t r0 = start(g, scratch() / "dies", env0, scratch() / "d0.log");
  env1["SIGMAFLOW_LOG_RANKS"] = "1";  // its progress lines show when it has joined and is working
  pid_t r1 = start(g, scratch() / "dies", env1, scratch() / "d1.log");
  // Killed once it is inside the run (a fixed 2 s wait killed it before it joined on a busy
  // machine, and rank 0 then failed to join instead).
  for (int i = 0; i < 60000 && read(scratch() / "d1.log").find("[rank 1]") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  kill(r1, SIGKILL);
  waitpid(r1, nullptr, 0);
  // Rank 0 notices at its next collective (after its own half of the reference: about 6 s here,
  // 25 s under the sanitizers), at once or after the 30 s timeout: the bound below is its work and
  // that timeout, with room for a busy machine.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(finish(r0, 400), 4) << read(scratch() / "d0.log");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 300);
  std::string log = read(scratch() / "d0.log");
  EXPECT_NE(log.find("rank 1"), std::string::npos) << log;
  EXPECT_NE(log.find("died"), std::string::npos) << log;
}

TEST(Distributed, ABadEnvironmentIsAUsageErrorNamingTheVariable) {
  std::string g = write_graph("ok.json", R"({"1": {"class_type": "KarrasScheduler", "inputs": {"steps": 3}},
      "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0]}}})");
  const std::vector<std::pair<std::map<std::string, std::string>, std::string>> cases = {
      {{{"RANK", "2"}, {"WORLD_SIZE", "2"}}, "RANK"},
      {{{"RANK", "0"}, {"WORLD_SIZE", "0"}}, "WORLD_SIZE"},
      {{{"RANK", "x"}, {"WORLD_SIZE", "2"}}, "RANK"},
      {{{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}, "MASTER_PORT"},
      {{{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"TORCHELASTIC_RESTART_COUNT", "-1"}}, "TORCHELASTIC_RESTART_COUNT"}};
  for (const auto& [env, name] : cases) {
    fs::path log = scratch() / "env.log";
    EXPECT_EQ(finish(start(g, scratch() / "env", env, log), 300), 2) << read(log);
    EXPECT_NE(read(log).find(name), std::string::npos) << read(log);
  }
  // WORLD_SIZE=1: a single process, as without the variables.
  fs::path log = scratch() / "one_rank.log";
  EXPECT_EQ(finish(start(g, scratch() / "env1", {{"RANK", "0"}, {"WORLD_SIZE", "1"}}, log), 300), 0) << read(log);
}

}  // namespace
