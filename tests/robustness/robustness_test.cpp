// Hostile and careless input against the sigmaflow executable (issue "Robustness"): every case
// ends in a clear error (exit 1-4, never a signal), within a time limit and a memory bound, and
// the message names node, input and value without echoing unbounded input. Each test is one case
// of the issue's list, numbered as there; the generators of the issue are written here in C++.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Proc {
  int rc = -1;     // exit status, or -1 when killed by a signal
  int signal = 0;  // the signal that ended it, if any
  bool timed_out = false;
  long max_rss_mb = 0;
  double seconds = 0;
  std::string out;  // stdout and stderr
};

fs::path scratch() {
  static fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / "sigmaflow-robustness";
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

// An `env` key that is not set in the environment: the child's RLIMIT_FSIZE in bytes.
constexpr const char* kFileSizeLimit = "SF_TEST_FILE_SIZE_LIMIT";

// Runs `args` (after the executable) with `env` added, stdout+stderr captured, killed after
// `timeout_s`. `on_output(text so far, pid)` may act on the running process (e.g. interrupt it).
Proc run(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {}, int timeout_s = 120,
         const std::function<void(const std::string&, pid_t)>& on_output = {}) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    setenv("SIGMAFLOW_CACHE_DIR", (scratch() / "cache").c_str(), 1);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    if (auto it = env.find(kFileSizeLimit); it != env.end()) {
      // A full disk, as far as the process can tell: writes past the limit fail (EFBIG) once
      // SIGXFSZ is ignored, and an ignored signal stays ignored across exec.
      const rlim_t bytes = std::stoul(it->second);
      rlimit lim{bytes, bytes};
      setrlimit(RLIMIT_FSIZE, &lim);
      signal(SIGXFSZ, SIG_IGN);
    }
    std::vector<char*> argv{const_cast<char*>(SF_SIGMAFLOW_EXE)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(SF_SIGMAFLOW_EXE, argv.data());
    _exit(127);
  }
  close(fds[1]);
  Proc p;
  char buf[65536];
  for (;;) {
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (elapsed > timeout_s) {
      p.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    if (poll(&pfd, 1, 5) > 0) {
      ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      if (p.out.size() < (8u << 20)) p.out.append(buf, static_cast<size_t>(n));
      if (on_output) on_output(p.out, pid);
    } else if (on_output) {
      on_output(p.out, pid);
    }
  }
  close(fds[0]);
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  p.max_rss_mb = ru.ru_maxrss / 1024;
  if (WIFEXITED(status)) p.rc = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) p.signal = WTERMSIG(status);
  return p;
}

std::string write(const std::string& name, const std::string& text) {
  fs::path path = scratch() / name;
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

// Memory bounds hold for the plain build; AddressSanitizer's shadow memory and quarantine
// multiply resident memory, so the sanitizer build scales them.
#ifdef SF_SANITIZE
constexpr long kRssScale = 4;
#else
constexpr long kRssScale = 1;
#endif

// A clear failure: the expected exit code, no signal, no timeout, bounded output.
void expect_clear_error(const Proc& p, int rc, const std::vector<std::string>& must_contain, long max_rss_mb = 1500,
                        size_t max_output = 20000) {
  EXPECT_FALSE(p.timed_out) << p.out.substr(0, 2000);
  EXPECT_EQ(p.signal, 0) << p.out.substr(0, 2000);
  EXPECT_EQ(p.rc, rc) << p.out.substr(0, 2000);
  for (const auto& s : must_contain) EXPECT_NE(p.out.find(s), std::string::npos) << s << "\n" << p.out.substr(0, 3000);
  EXPECT_LE(p.out.size(), max_output) << "unbounded echo of the input";
  EXPECT_LE(p.max_rss_mb, max_rss_mb * kRssScale);
  EXPECT_EQ(p.out.find("terminate called"), std::string::npos);
  EXPECT_EQ(p.out.find("Exception raised from"), std::string::npos) << "a C++ backtrace in a user-facing message";
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::string chain(size_t n, bool cycle) {
  std::ostringstream g;
  g << "{";
  for (size_t i = 0; i < n; ++i) {
    std::string src = i + 1 < n || cycle ? std::to_string((i + 1) % n) : "src";
    g << "\"" << i << "\": {\"class_type\": \"FlipSigmas\", \"inputs\": {\"sigmas\": [\"" << src << "\", 0]}},";
  }
  if (!cycle)
    g << "\"src\": {\"class_type\": \"KarrasScheduler\", \"inputs\": {\"steps\": 3, \"sigma_min\": 0.002, "
         "\"sigma_max\": 80}},";
  g << "\"o\": {\"class_type\": \"SaveSigmas\", \"inputs\": {\"sigmas\": [\"0\", 0], \"filename_prefix\": \"s\"}}}";
  return g.str();
}

// 1. Deep nesting: refused at parse time with the limit named, nothing echoed back.
TEST(Robustness, Case01DeepNestingIsRefusedAtParseTime) {
  const size_t n = 100000;
  auto a = run({"validate", write("deep.json", "{\"1\":{\"class_type\":\"KarrasScheduler\",\"inputs\":{\"steps\":" +
                                                   repeat("[", n) + repeat("]", n) + "}}}")});
  expect_clear_error(a, 3, {"512"});
  auto b = run({"validate", write("deep_value.json",
                                  "{\"1\":{\"class_type\":\"ManualSigmas\",\"inputs\":{\"sigmas\":"
                                  "{\"__value__\":" +
                                      repeat("[", n) + repeat("]", n) + "}}}}")});
  expect_clear_error(b, 3, {"512"});
}

// 2. Long chains and cycles: iterative algorithms, a bounded cycle description.
TEST(Robustness, Case02LongCyclesAndChainsValidate) {
  auto cycle = run({"validate", write("cycle.json", chain(20000, true))});
  expect_clear_error(cycle, 3, {"cycle"});
  auto long_chain = run({"validate", write("chain.json", chain(100000, false))});
  EXPECT_EQ(long_chain.rc, 0) << long_chain.out.substr(0, 2000);
  EXPECT_EQ(long_chain.signal, 0);
  EXPECT_LT(long_chain.max_rss_mb, 1500 * kRssScale);
}

std::string npy_with_dims(size_t dims) {
  std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + repeat("1, ", dims) + "), }";
  h += std::string((64 - (11 + h.size()) % 64) % 64, ' ') + "\n";
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>((h.size() >> 8) & 0xff);
  return out + h + std::string(4, '\0');
}

std::string load_latent_graph(const std::string& path) {
  return R"({"1": {"class_type": "LoadLatent", "inputs": {"path": ")" + path +
         R"("}}, "2": {"class_type": "SaveLatent", "inputs": {"samples": ["1", 0], "filename_prefix": "x"}}})";
}

// 3. A .npy header listing 20,000 dimensions: refused by the bounded header parser.
TEST(Robustness, Case03HugeNpyHeaderIsAClearError) {
  std::string npy = write("deep_shape.npy", npy_with_dims(20000));
  auto p = run({"run", write("deep_shape.json", load_latent_graph(npy)), "--out", (scratch() / "o3").string()});
  expect_clear_error(p, 4, {"LoadLatent", "'path'"});
}

// 5. Signatures stay small on long chains and on the 20-layer diamond of shared latents.
TEST(Robustness, Case05ChainAndDiamondRunInBoundedMemory) {
  auto c = run({"run", write("chain10k.json", chain(10000, false)), "--out", (scratch() / "o5").string()});
  EXPECT_EQ(c.rc, 0) << c.out.substr(0, 2000);
  EXPECT_LT(c.max_rss_mb, 1000 * kRssScale);
  std::ostringstream g;
  g << R"({"m": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8"}},
           "s": {"class_type": "KSamplerSelect", "inputs": {}},
           "g": {"class_type": "BasicGuider", "inputs": {"model": ["m", 0]}},
           "q": {"class_type": "KarrasScheduler", "inputs": {"steps": 1}},
           "l0": {"class_type": "EmptyLatent", "inputs": {"model": ["m", 0]}},)";
  for (int k = 1; k <= 20; ++k)
    g << "\"n" << k << "\": {\"class_type\": \"LatentToNoise\", \"inputs\": {\"latent\": [\"l" << k - 1
      << "\", 0]}}, \"l" << k << "\": {\"class_type\": \"SamplerCustomAdvanced\", \"inputs\": {\"noise\": [\"n" << k
      << "\", 0], \"guider\": [\"g\", 0], \"sampler\": [\"s\", 0], \"sigmas\": [\"q\", 0], \"latent_image\": [\"l"
      << k - 1 << "\", 0]}},";
  g << R"("o": {"class_type": "SaveLatent", "inputs": {"samples": ["l20", 0], "filename_prefix": "d"}}})";
  auto d = run({"run", write("diamond.json", g.str()), "--out", (scratch() / "o5d").string()}, {}, 120);
  EXPECT_EQ(d.rc, 0) << d.out.substr(0, 2000);
  EXPECT_LT(d.seconds, 60);
  EXPECT_LT(d.max_rss_mb, 1000 * kRssScale);
}

// 6. Allocations sized by input are checked first: the error names node, input and bytes.
TEST(Robustness, Case06OversizedAllocationsAreRefusedWithTheBytesNeeded) {
  std::map<std::string, std::string> small{{"SIGMAFLOW_MEMORY_LIMIT", "50000000"}};  // 50 MB
  auto latent = run({"run", write("big_latent.json", R"({"m": {"class_type": "GaussianMixtureModel",
      "inputs": {"preset": "powerlaw64"}}, "l": {"class_type": "EmptyLatent", "inputs": {"model": ["m", 0],
      "batch_size": 1000000}}, "o": {"class_type": "SaveLatent", "inputs": {"samples": ["l", 0],
      "filename_prefix": "x"}}})"),
                     "--out", (scratch() / "o6").string()},
                    small);
  expect_clear_error(latent, 4, {"EmptyLatent", "'batch_size'", "bytes"});
  auto data = run({"run", write("big_data.json", R"({"m": {"class_type": "GaussianMixtureModel",
      "inputs": {"preset": "powerlaw64"}}, "d": {"class_type": "SampleData", "inputs": {"model": ["m", 0],
      "n": 1000000}}, "o": {"class_type": "SaveLatent", "inputs": {"samples": ["d", 0], "filename_prefix": "x"}}})"),
                   "--out", (scratch() / "o6").string()},
                  small);
  expect_clear_error(data, 4, {"SampleData", "'n'"});
}

// 7. Unbounded reads: non-regular files and files over the limit are refused without reading.
TEST(Robustness, Case07DevZeroAndOversizedFilesAreRefused) {
  auto latent = run(
      {"run", write("zero_latent.json", load_latent_graph("/dev/zero")), "--out", (scratch() / "o7").string()}, {}, 30);
  expect_clear_error(latent, 4, {"LoadLatent", "not a regular file"}, 600);
  auto graph = run({"validate", "/dev/zero"}, {}, 30);
  EXPECT_FALSE(graph.timed_out);
  EXPECT_NE(graph.rc, 0);
  EXPECT_NE(graph.out.find("not a regular file"), std::string::npos) << graph.out;
  // A sparse 9 GB file: over the 8 GiB data limit, refused by its size alone.
  std::string big = (scratch() / "big.npy").string();
  { std::ofstream(big) << "x"; }
  fs::resize_file(big, uint64_t{9} << 30);
  auto sized =
      run({"run", write("big_npy.json", load_latent_graph(big)), "--out", (scratch() / "o7").string()}, {}, 30);
  expect_clear_error(sized, 4, {"LoadLatent", "limit"}, 600);
  fs::remove(big);
  for (const char* node : {"LoadSigmas", "LoadDataset"}) {
    auto p = run({"run",
                  write(std::string(node) + "_zero.json", R"({"1": {"class_type": ")" + std::string(node) +
                                                              R"(", "inputs": {"path": "/dev/zero"}},
                        "2": {"class_type": "SaveLatent", "inputs": {"samples": ["1", 0], "filename_prefix": "x"}}})"),
                  "--out", (scratch() / "o7").string()},
                 {}, 30);
    EXPECT_FALSE(p.timed_out) << node;
    EXPECT_EQ(p.signal, 0) << node;
    EXPECT_NE(p.rc, 0) << node;
  }
}

// 8. Hangs: plugin check gives up on a looping constructor; SIGMAFLOW_THREADS is validated;
// a missing --plugins folder is reported.
TEST(Robustness, Case08NoHangs) {
  auto check = run({"plugin", "check", std::string(SF_FIXTURE_DIR) + "/hanging/fixture_hanging.so"},
                   {{"SIGMAFLOW_PLUGIN_TIMEOUT", "2"}}, 60);
  EXPECT_FALSE(check.timed_out);
  EXPECT_EQ(check.rc, 1) << check.out;
  EXPECT_LT(check.seconds, 30);
  for (const char* threads : {"2000", "abc", "-1"}) {
    auto v = run({"--version"}, {{"SIGMAFLOW_THREADS", threads}}, 30);
    EXPECT_EQ(v.rc, 2) << threads << ": " << v.out;
    EXPECT_NE(v.out.find("SIGMAFLOW_THREADS"), std::string::npos) << v.out;
  }
  auto missing = run({"nodes", "--plugins", "/nonexistent-sigmaflow-plugins"}, {}, 60);
  EXPECT_NE(missing.out.find("/nonexistent-sigmaflow-plugins"), std::string::npos) << missing.out.substr(0, 500);
}

// 9. A plugin whose constructor calls exit(0) is a refused plugin, not a silent success.
TEST(Robustness, Case09ExitInAConstructorIsRefused) {
  auto p = run({"plugin", "check", std::string(SF_FIXTURE_DIR) + "/exiting/fixture_exiting.so"}, {}, 60);
  EXPECT_EQ(p.rc, 1) << p.out;
  EXPECT_NE(p.out.find("exited with status 0 while loading"), std::string::npos) << p.out;
}

// 10. Empty SIGMAS never reach a sampler: directories, empty files, "0x10", a single value.
TEST(Robustness, Case10EmptyOrMalformedSigmasAreErrors) {
  fs::create_directories(scratch() / "a_dir");
  write("empty.json", "");
  auto save = [](const std::string& node_json) {
    return R"({"1": )" + node_json +
           R"(, "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": "s"}}})";
  };
  for (const auto& path : {(scratch() / "a_dir").string(), (scratch() / "empty.json").string()}) {
    auto p = run(
        {"run", write("load_sigmas.json", save(R"({"class_type": "LoadSigmas", "inputs": {"path": ")" + path + "\"}}")),
         "--out", (scratch() / "o10").string()});
    expect_clear_error(p, 4, {"LoadSigmas", "'path'"});
  }
  for (const char* text : {"0x10, 0", "14.6"}) {
    auto p = run({"validate", write("manual.json", save(R"({"class_type": "ManualSigmas", "inputs": {"sigmas": ")" +
                                                        std::string(text) + "\"}}"))});
    EXPECT_NE(p.rc, 0) << text;
    EXPECT_NE(p.out.find("ManualSigmas"), std::string::npos) << p.out;
  }
}

// 11. Duplicate node ids and duplicate input keys are refused, not "last one wins".
TEST(Robustness, Case11DuplicateIdsAndKeysAreRefused) {
  auto ids = run({"validate", write("dup_ids.json", R"({"1": {"class_type": "KarrasScheduler", "inputs": {}},
      "1": {"class_type": "ExponentialScheduler", "inputs": {}}})")});
  expect_clear_error(ids, 3, {"duplicate node id '1'"});
  auto keys = run({"validate", write("dup_keys.json", R"({"1": {"class_type": "KarrasScheduler",
      "inputs": {"steps": 3, "steps": 5}}})")});
  expect_clear_error(keys, 3, {"duplicate key 'steps'"});
}

// 12. Ctrl-C while a node runs: the node is named, temporary files are removed, exit 130.
TEST(Robustness, Case12InterruptRemovesTemporaryFilesAndExits130) {
  fs::path out = scratch() / "o12";
  fs::remove_all(out);
  std::string g = write("long.json", R"({"m": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8"}},
      "l": {"class_type": "EmptyLatent", "inputs": {"model": ["m", 0], "batch_size": 50000}},
      "k": {"class_type": "KSampler", "inputs": {"model": ["m", 0], "latent_image": ["l", 0], "steps": 10000,
            "sampler_name": "heun", "scheduler": "karras"}},
      "o": {"class_type": "SaveLatent", "inputs": {"samples": ["k", 0], "filename_prefix": "x"}}})");
  bool sent = false;
  auto p = run({"run", g, "--out", out.string()}, {}, 120, [&](const std::string& text, pid_t pid) {
    if (!sent && text.find("EmptyLatent done") != std::string::npos) {  // the KSampler is running
      usleep(300000);
      kill(pid, SIGINT);
      sent = true;
    }
  });
  EXPECT_TRUE(sent);
  EXPECT_EQ(p.rc, 130) << p.out.substr(0, 2000);
  EXPECT_NE(p.out.find("interrupted"), std::string::npos) << p.out.substr(0, 2000);
  EXPECT_NE(p.out.find("KSampler"), std::string::npos);
  if (fs::exists(out)) {
    for (auto& f : fs::recursive_directory_iterator(out))
      EXPECT_EQ(f.path().filename().string().find(".tmp"), std::string::npos) << f.path();
  }
}

// 12 (files). Ctrl-C while SaveLatent writes: the temporary file disappears, nothing half-written
// stays, exit 130.
TEST(Robustness, Case12InterruptDuringAWriteLeavesNoTemporaryFile) {
  fs::path out = scratch() / "o12w";
  fs::remove_all(out);
  // 2^20 samples of 64 float32: a 256 MB file.
  std::string g = write("big_save.json", R"({"m": {"class_type": "GaussianMixtureModel",
      "inputs": {"preset": "powerlaw64"}},
      "l": {"class_type": "EmptyLatent", "inputs": {"model": ["m", 0], "batch_size": 1048576}},
      "o": {"class_type": "SaveLatent", "inputs": {"samples": ["l", 0], "filename_prefix": "big/x"}}})");
  bool sent = false;
  auto p = run({"run", g, "--out", out.string()}, {}, 120, [&](const std::string&, pid_t pid) {
    if (sent || !fs::exists(out / "big")) return;
    for (auto& f : fs::directory_iterator(out / "big"))
      if (f.path().filename().string().find(".tmp") != std::string::npos) {
        kill(pid, SIGINT);
        sent = true;
      }
  });
  ASSERT_TRUE(sent) << "the write finished before it could be interrupted:\n" << p.out.substr(0, 2000);
  EXPECT_EQ(p.rc, 130) << p.out.substr(0, 2000);
  EXPECT_NE(p.out.find("SaveLatent"), std::string::npos) << p.out.substr(0, 2000);
  for (auto& f : fs::recursive_directory_iterator(out)) EXPECT_TRUE(f.is_directory()) << f.path();
}

// Ctrl-C during TrainDenoiser: the first SIGINT stops training at its next step and writes a
// checkpoint (exit 130); resume_from continues from it to the end.
TEST(Robustness, TrainingInterruptedByCtrlCWritesACheckpointThatResumes) {
  fs::path out = scratch() / "o_train";
  fs::remove_all(out);
  const std::string graph = R"({"m": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8"}},
      "d": {"class_type": "SampleData", "inputs": {"model": ["m", 0], "n": 500, "seed": 1}},
      "t": {"class_type": "TrainDenoiser", "inputs": {"data": ["d", 0], "steps": STEPS, "width": 16, "depth": 1,
            "batch": 32, "noise_levels": "adaptive", "burn_in": 10, "filename_prefix": "net"RESUME}},
      "s": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["t", 1], "filename_prefix": "learned"}}})";
  auto make = [&](const std::string& steps, const std::string& resume) {
    std::string g = graph;
    g.replace(g.find("STEPS"), 5, steps);
    g.replace(g.find("RESUME"), 6, resume);
    return g;
  };
  std::string g = write("train_long.json", make("100000000", ""));
  bool sent = false;
  auto p = run({"run", g, "--out", out.string()}, {}, 120, [&](const std::string& text, pid_t pid) {
    if (!sent && text.find("training mlp") != std::string::npos) {
      usleep(500000);
      kill(pid, SIGINT);
      sent = true;
    }
  });
  ASSERT_TRUE(sent) << p.out.substr(0, 2000);
  EXPECT_EQ(p.rc, 130) << p.out.substr(0, 2000);
  EXPECT_NE(p.out.find("checkpoint written"), std::string::npos) << p.out.substr(0, 2000);
  fs::path ckpt = out / "net_00001_checkpoint.pt";
  ASSERT_TRUE(fs::exists(ckpt)) << p.out.substr(0, 2000);
  size_t at = p.out.find("interrupted at step ");
  ASSERT_NE(at, std::string::npos);
  const long stopped = std::stol(p.out.substr(at + 20));
  EXPECT_GT(stopped, 0);
  std::string g2 =
      write("train_resume.json", make(std::to_string(stopped + 50), ", \"resume_from\": \"" + ckpt.string() + "\""));
  auto q = run({"run", g2, "--out", out.string()});
  EXPECT_EQ(q.rc, 0) << q.out.substr(0, 2000);
  EXPECT_NE(q.out.find("resumed from step " + std::to_string(stopped)), std::string::npos) << q.out.substr(0, 2000);
  EXPECT_TRUE(fs::exists(out / "net_00002_.pt"));
  // Resuming with steps at or below the checkpoint's step trains nothing, and says so.
  std::string g3 =
      write("train_resume_past.json", make(std::to_string(stopped), ", \"resume_from\": \"" + ckpt.string() + "\""));
  auto past = run({"run", g3, "--out", out.string()});
  EXPECT_EQ(past.rc, 0) << past.out.substr(0, 2000);
  EXPECT_NE(past.out.find("nothing is left to train"), std::string::npos) << past.out.substr(0, 2000);
}

// 7 (TorchScript). Files found by fuzz_torchscript: one makes LibTorch's deserializer ask for
// 16 GB (before the address-space cap it ran 49 s and reached 16.5 GB resident), one crashes its
// type parser under AddressSanitizer. Both must be a clear error about the node's path.
TEST(Robustness, Case07MalformedTorchScriptFilesAreClearErrors) {
#ifdef SF_SANITIZE
  GTEST_SKIP() << "the address-space cap that bounds LibTorch's loader is off under AddressSanitizer";
#else
  for (const char* file : {"bad_alloc_module.pt", "libtorch_parser_crash.pt"}) {
    std::string path = std::string(SF_ROBUSTNESS_DATA) + "/" + file;
    auto p = run({"run",
                  write("ts_bad.json", R"({"1": {"class_type": "TorchScriptModel", "inputs": {"path": ")" + path +
                                           R"(", "parametrization": "edm", "time_input": "log_sigma_quarter",
                  "sample_shape": "2"}},
        "2": {"class_type": "EmptyLatent", "inputs": {"model": ["1", 0]}},
        "3": {"class_type": "SaveLatent", "inputs": {"samples": ["2", 0], "filename_prefix": "x"}}})"),
                  "--out", (scratch() / "o7ts").string()},
                 {}, 60);
    expect_clear_error(p, 4, {"TorchScriptModel", "'path'", "not a loadable TorchScript file"}, 1000);
    EXPECT_LT(p.seconds, 20) << file;
  }
#endif
}

// 13. Re-running into the same --out adds ComfyUI counters; --overwrite keeps fixed names; a
// failed run creates no folder.
TEST(Robustness, Case13OutputsAreNeverSilentlyOverwritten) {
  fs::path out = scratch() / "o13";
  fs::remove_all(out);
  std::string g = write("save.json", R"({"1": {"class_type": "KarrasScheduler", "inputs": {"steps": 3}},
      "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": "s/run"}}})");
  for (int i = 0; i < 2; ++i) EXPECT_EQ(run({"run", g, "--out", out.string()}).rc, 0);
  EXPECT_TRUE(fs::exists(out / "s" / "run_00001_.json"));
  EXPECT_TRUE(fs::exists(out / "s" / "run_00002_.json"));
  EXPECT_EQ(run({"run", g, "--out", out.string(), "--overwrite"}).rc, 0);
  EXPECT_TRUE(fs::exists(out / "s" / "run.json"));
  fs::path never = scratch() / "o13-never";
  auto bad = run({"run", write("bad13.json", R"({"1": {"class_type": "LoadSigmas", "inputs": {"path": "/none"}},
      "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": "x"}}})"),
                  "--out", never.string()});
  EXPECT_EQ(bad.rc, 4);
  EXPECT_FALSE(fs::exists(never));
}

// 15. Literals run would reject fail validate; the full unsigned seed range is accepted.
TEST(Robustness, Case15LiteralChecksAtValidationAndFullSeedRange) {
  auto weights = run({"validate", write("weights.json", R"({"1": {"class_type": "GaussianMixtureModel",
      "inputs": {"preset": "clusters2d", "weights": {"__value__": [1.0]}}},
      "2": {"class_type": "SampleData", "inputs": {"model": ["1", 0]}},
      "3": {"class_type": "SaveLatent", "inputs": {"samples": ["2", 0], "filename_prefix": "x"}}})")});
  expect_clear_error(weights, 3, {"weights"});
  auto range = run({"validate", write("range.json", R"({"1": {"class_type": "KarrasScheduler",
      "inputs": {"steps": 3, "sigma_min": 5.0, "sigma_max": 1.0}},
      "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": "x"}}})")});
  expect_clear_error(range, 3, {"sigma_min"});
  for (const char* seed : {"18446744073709551615", "9223372036854775808"}) {
    auto p = run({"validate", write("seed.json", R"({"1": {"class_type": "RandomNoise", "inputs": {"noise_seed": )" +
                                                     std::string(seed) + R"(}},
        "m": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8"}},
        "l": {"class_type": "EmptyLatent", "inputs": {"model": ["m", 0]}},
        "g": {"class_type": "BasicGuider", "inputs": {"model": ["m", 0]}},
        "s": {"class_type": "KSamplerSelect", "inputs": {}},
        "q": {"class_type": "KarrasScheduler", "inputs": {"steps": 2}},
        "x": {"class_type": "SamplerCustomAdvanced", "inputs": {"noise": ["1", 0], "guider": ["g", 0],
              "sampler": ["s", 0], "sigmas": ["q", 0], "latent_image": ["l", 0]}},
        "o": {"class_type": "SaveLatent", "inputs": {"samples": ["x", 0], "filename_prefix": "x"}}})")});
    EXPECT_EQ(p.rc, 0) << seed << ": " << p.out;
  }
}

// 16. Output prefixes with a trailing '/', '.', a newline or '..' are errors, not hidden files.
TEST(Robustness, Case16BadOutputPrefixesAreErrors) {
  for (const char* prefix : {"dir/", "name.", "a\\nb", "../up", ""}) {
    auto p = run({"run",
                  write("prefix.json", R"({"1": {"class_type": "KarrasScheduler", "inputs": {"steps": 3}},
        "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": ")" +
                                           std::string(prefix) + "\"}}}"),
                  "--out", (scratch() / "o16").string()});
    EXPECT_NE(p.rc, 0) << prefix;
    EXPECT_EQ(p.signal, 0);
    EXPECT_NE(p.out.find("filename_prefix"), std::string::npos) << prefix << ": " << p.out;
  }
}

// 17. A float32 mixture cannot hold a mean of 1e300 or a std of 1e-300: refused, named.
TEST(Robustness, Case17UnrepresentableMixtureValuesAreRefused) {
  for (const char* field : {R"("means": {"__value__": [[1e300, 0.0]]}, "stds": {"__value__": [0.1]})",
                            R"("means": {"__value__": [[0.0, 0.0]]}, "stds": {"__value__": [1e-300]})"}) {
    auto p = run({"run",
                  write("repr.json", R"({"1": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "custom",
        "dtype": "float32", )" + std::string(field) +
                                         R"(}},
        "2": {"class_type": "SampleData", "inputs": {"model": ["1", 0]}},
        "3": {"class_type": "SaveLatent", "inputs": {"samples": ["2", 0], "filename_prefix": "x"}}})"),
                  "--out", (scratch() / "o17").string()});
    EXPECT_NE(p.rc, 0);
    EXPECT_EQ(p.signal, 0);
    EXPECT_TRUE(p.out.find("'means'") != std::string::npos || p.out.find("'stds'") != std::string::npos) << p.out;
  }
}

}  // namespace

namespace {

std::string save_graph(const std::string& prefix) {
  return R"({"1": {"class_type": "KarrasScheduler", "inputs": {"steps": 3}},
      "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": ")" +
         prefix + "\"}}}";
}

// v3 3. Echoed user strings are capped and control characters escaped: a 12-node cycle whose ids
// are 200,000 characters long, and class_types carrying ANSI escapes and an RTL override.
TEST(Robustness, V3LongIdsAndControlCharactersAreNotEchoedRaw) {
  std::ostringstream g;
  g << "{";
  auto id = [](int i) { return std::string(200000, 'x') + std::to_string(i); };
  for (int i = 0; i < 12; ++i)
    g << "\"" << id(i) << "\": {\"class_type\": \"FlipSigmas\", \"inputs\": {\"sigmas\": [\"" << id((i + 1) % 12)
      << "\", 0]}},";
  g << "\"o\": {\"class_type\": \"SaveSigmas\", \"inputs\": {\"sigmas\": [\"" << id(0)
    << "\", 0], \"filename_prefix\": \"s\"}}}";
  auto cycle = run({"validate", write("v3ids.json", g.str())});
  expect_clear_error(cycle, 3, {"cycle"}, 1500, 20000);
  auto escapes = run({"validate", write("v3esc.json", R"({"1": {"class_type": "Karras\u001b[31mScheduler\u202e",
      "inputs": {}}})")});
  expect_clear_error(escapes, 3, {"does not exist"});
  EXPECT_EQ(escapes.out.find('\x1b'), std::string::npos) << escapes.out;
  EXPECT_EQ(escapes.out.find("\xe2\x80\xae"), std::string::npos) << escapes.out;  // U+202E, raw
}

// v3 3. "Did you mean" stays bounded: 20,000 distinct long invented class_types validate quickly
// (113 s for 10^5 before) and still suggest for the first ones.
TEST(Robustness, V3ManyUnknownClassTypesValidateInLinearTime) {
  std::ostringstream g;
  g << "{";
  for (int i = 0; i < 20000; ++i)
    g << (i ? "," : "") << "\"" << i << "\": {\"class_type\": \"KarrasSchedulr" << std::string(200, 'q') << i
      << "\", \"inputs\": {}}";
  g << "}";
  auto p = run({"validate", write("v3unknown.json", g.str())}, {}, 600);
  expect_clear_error(p, 3, {"does not exist"}, 1500, 50u << 20);
}

// v3 5. Environment variables read deep in the libraries are checked like SIGMAFLOW_THREADS:
// junk is a usage error naming the variable, not silently ignored.
TEST(Robustness, V3JunkEnvironmentVariablesAreUsageErrors) {
  const std::string g = write("v3env.json", save_graph("s"));
  for (const auto& [var, value] : std::vector<std::pair<std::string, std::string>>{{"SIGMAFLOW_MEMORY_LIMIT", "4G"},
                                                                                   {"SIGMAFLOW_MEMORY_LIMIT", "12"},
                                                                                   {"SIGMAFLOW_PLUGIN_TIMEOUT", "ten"},
                                                                                   {"SIGMAFLOW_PLUGIN_TIMEOUT", "0"},
                                                                                   {"SIGMAFLOW_PLUGIN_TIMEOUT", "999"}})
    expect_clear_error(run({"validate", g}, {{var, value}}), 2, {var + "='" + value + "'", "expected"});
  EXPECT_EQ(run({"validate", g}, {{"SIGMAFLOW_MEMORY_LIMIT", "4294967296"}, {"SIGMAFLOW_PLUGIN_TIMEOUT", "30"}}).rc, 0);
}

// v3 3. resume_from a FIFO hung forever in LibTorch's reader; a FIFO, /dev/zero and a folder are
// refused before anything reads them.
TEST(Robustness, V3ResumeFromSomethingThatIsNotAFileIsRefused) {
  const fs::path fifo = scratch() / "v3.fifo";
  fs::remove(fifo);
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& from : {fifo.string(), std::string("/dev/zero"), scratch().string()}) {
    const std::string g =
        write("v3resume.json", R"({"m": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8"}},
        "d": {"class_type": "SampleData", "inputs": {"model": ["m", 0], "n": 64, "seed": 1}},
        "t": {"class_type": "TrainDenoiser", "inputs": {"data": ["d", 0], "steps": 5, "width": 8, "depth": 1,
              "batch": 16, "filename_prefix": "net", "resume_from": ")" +
                                   from + R"("}},
        "s": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["t", 1], "filename_prefix": "learned"}}})");
    auto p = run({"run", g, "--out", (scratch() / "o_v3resume").string()}, {}, 300);
    expect_clear_error(p, 4, {"resume_from", from});
    EXPECT_TRUE(p.out.find("not a regular file") != std::string::npos || p.out.find("is a folder") != std::string::npos)
        << p.out;
  }
}

// v3 3. A gzip IDX bomb (30 MB inflating to 4.35 GB before): the header's declared size is checked
// against the memory before the data is inflated. Here 200 MB of zeros (about 200 KB of gzip)
// against a 100 MB memory limit.
TEST(Robustness, V3GzipIdxBombIsRefusedBeforeInflating) {
  const fs::path bomb = scratch() / "bomb-idx1-ubyte.gz";
  // IDX magic (unsigned bytes, 3 dims) and dims 250000 x 28 x 28 = 196 MB.
  const std::string cmd =
      "{ printf '\\000\\000\\010\\003\\000\\003\\320\\220\\000\\000\\000\\034"
      "\\000\\000\\000\\034'; head -c 196000000 /dev/zero; } | gzip -1 > " +
      bomb.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ASSERT_LT(fs::file_size(bomb), 2u << 20);
  const std::string g =
      write("v3bomb.json", R"({"d": {"class_type": "LoadDataset", "inputs": {"path": ")" + bomb.string() + R"("}},
      "s": {"class_type": "SaveLatent", "inputs": {"samples": ["d", 0], "filename_prefix": "bomb"}}})");
  auto p = run({"run", g, "--out", (scratch() / "o_bomb").string()}, {{"SIGMAFLOW_MEMORY_LIMIT", "100000000"}});
  expect_clear_error(p, 4, {"LoadDataset", "path", "its header declares 196000016 bytes", "100.0 MB are available"},
                     400);
}

// v3 5. LoadLatent read float16 that SaveLatent then could not write; now it writes it back as
// float16, value for value.
TEST(Robustness, V3Float16LatentsRoundTrip) {
  std::string h = "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 2), }";
  h += std::string((64 - (10 + h.size() + 1) % 64) % 64, ' ') + "\n";
  std::string npy = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(h.size()) + '\0' + h;
  // 1.0, -2.0, 0.5, 65504 (the largest float16) as IEEE half, little-endian.
  npy += std::string("\x00\x3c\x00\xc0\x00\x38\xff\x7b", 8);
  fs::path out = scratch() / "o_f16";
  fs::remove_all(out);
  auto p = run({"run", write("v3f16.json", load_latent_graph(write("half.npy", npy))), "--out", out.string()});
  ASSERT_EQ(p.rc, 0) << p.out;
  std::ifstream f(out / "x_00001_.npy", std::ios::binary);
  std::string back((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_GE(back.size(), 8u);
  EXPECT_NE(back.find("'descr': '<f2'"), std::string::npos) << back.substr(0, 128);
  EXPECT_EQ(back.substr(back.size() - 8), npy.substr(npy.size() - 8));
}

// v3 5. Values that reached LibTorch raw (with its C++ backtrace): components with no values, and
// data of [N, 0] into FitGaussianMixture.
TEST(Robustness, V3EmptyComponentsAndZeroWidthDataAreClearErrors) {
  const std::string empty_means = write("v3means.json", R"({"m": {"class_type": "GaussianMixtureModel", "inputs": {
      "preset": "custom", "means": {"__value__": [[]]}, "stds": {"__value__": [[1.0]]}, "weights": {"__value__": [1.0]}}},
      "s": {"class_type": "SampleData", "inputs": {"model": ["m", 0], "n": 10}},
      "o": {"class_type": "SaveLatent", "inputs": {"samples": ["s", 0], "filename_prefix": "x"}}})");
  expect_clear_error(run({"run", empty_means, "--out", (scratch() / "o_v3m").string()}), 4,
                     {"input 'means'", "a component has no values"});
  std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 0), }";
  h += std::string((64 - (10 + h.size() + 1) % 64) % 64, ' ') + "\n";
  const std::string npy = write("n0.npy", std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(h.size()) + '\0' + h);
  const std::string fit =
      write("v3fit.json", R"({"d": {"class_type": "LoadLatent", "inputs": {"path": ")" + npy + R"("}},
      "f": {"class_type": "FitGaussianMixture", "inputs": {"dataset": ["d", 0], "components": 1}},
      "s": {"class_type": "SampleData", "inputs": {"model": ["f", 0], "n": 10}},
      "o": {"class_type": "SaveLatent", "inputs": {"samples": ["s", 0], "filename_prefix": "x"}}})");
  expect_clear_error(run({"run", fit, "--out", (scratch() / "o_v3f").string()}), 4, {"input 'dataset'", "no values"});
}

// v3 "every parser of a user-supplied file bounds its depth": a sigma list of 200,000 nested
// brackets crashed LoadSigmas (SIGSEGV in the JSON library's recursion).
TEST(Robustness, V3DeeplyNestedSigmaFileIsRefused) {
  const std::string deep = write("v3deep.json", repeat("[", 200000) + repeat("]", 200000));
  const std::string g = write("v3deepgraph.json", R"({"l": {"class_type": "LoadSigmas", "inputs": {"path": ")" + deep +
                                                      R"("}}, "o": {"class_type": "SaveSigmas", "inputs": {
      "sigmas": ["l", 0], "filename_prefix": "s"}}})");
  expect_clear_error(run({"run", g, "--out", (scratch() / "o_v3deep").string()}), 4,
                     {"LoadSigmas", "input 'path'", "nests deeper than 64 levels"});
}

// v3 3. A TorchScriptModel sample_shape in range but huge asked LibTorch for 40 GB at the probe and
// printed its backtrace; now the shape is checked against the memory first, naming the input.
TEST(Robustness, V3HugeSampleShapeIsCheckedBeforeTheProbe) {
  const std::string g = write("v3shape.json", R"({"m": {"class_type": "TorchScriptModel", "inputs": {"path": ")" +
                                                  std::string(SF_SAMPLES_DIR) + R"(/assets/ring8_edm.pt",
      "parametrization": "edm", "time_input": "log_sigma_quarter", "sigma_data": 0.5, "sample_shape": "100000, 100000"}},
      "l": {"class_type": "EmptyLatent", "inputs": {"model": ["m", 0], "batch_size": 1}},
      "o": {"class_type": "SaveLatent", "inputs": {"samples": ["l", 0], "filename_prefix": "x"}}})");
  expect_clear_error(run({"run", g, "--out", (scratch() / "o_v3shape").string()}), 4,
                     {"input 'sample_shape'", "one sample of shape", "needs"});
}

}  // namespace

// v3 1. Output lost or misplaced: --out checked before anything runs; concurrent runs and counters
// past 99999 get distinct names; shared prefixes under --overwrite refused; stale temporary files
// of killed runs removed.
TEST(Robustness, V3OutputFoldersAreCheckedBeforeAnythingRuns) {
  const std::string g = write("v3out.json", save_graph("s"));
  auto empty = run({"run", g, "--out", ""});
  expect_clear_error(empty, 2, {"--out is empty"});
  const std::string file = write("v3-a-file", "x");
  expect_clear_error(run({"run", g, "--out", file}), 2, {"is a file"});
  expect_clear_error(run({"run", g, "--out", file + "/below"}), 2, {"is a file, not a folder"});
  expect_clear_error(run({"serve", "--port", "0", "--out", ""}), 2, {"--out is empty"});
}

TEST(Robustness, V3ConcurrentRunsAndLongCountersGetDistinctNames) {
  fs::path out = scratch() / "v3c";
  fs::remove_all(out);
  const std::string g = write("v3c.json", save_graph("s/run"));
  std::vector<std::thread> runs;
  std::vector<int> codes(6, -1);
  for (int i = 0; i < 6; ++i)
    runs.emplace_back([&, i] { codes[static_cast<size_t>(i)] = run({"run", g, "--out", out.string()}).rc; });
  for (auto& t : runs) t.join();
  EXPECT_EQ(codes, std::vector<int>(6, 0));
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(out / "s")) names.insert(e.path().filename().string());
  std::set<std::string> want;
  for (int i = 1; i <= 6; ++i)
    for (const char* ext : {".json", ".csv"}) want.insert("run_0000" + std::to_string(i) + "_" + ext);
  EXPECT_EQ(names, want);  // six runs, six counters, no reservation marks left
  // Past five digits the counter keeps counting.
  std::ofstream(out / "s" / "run_100000_.json") << "{}";
  EXPECT_EQ(run({"run", g, "--out", out.string()}).rc, 0);
  EXPECT_TRUE(fs::exists(out / "s" / "run_100001_.json"));
}

TEST(Robustness, V3OverwriteWithASharedPrefixIsRefused) {
  fs::path out = scratch() / "v3o";
  const std::string g = write("v3o.json", R"({"1": {"class_type": "KarrasScheduler", "inputs": {"steps": 3}},
      "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": "same"}},
      "3": {"class_type": "ExponentialScheduler", "inputs": {"steps": 3}},
      "4": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["3", 0], "filename_prefix": "same"}}})");
  auto p = run({"run", g, "--out", out.string(), "--overwrite"});
  expect_clear_error(p, 3, {"nodes 2 (SaveSigmas) and 4 (SaveSigmas)", "\"same\""});
  EXPECT_FALSE(fs::exists(out / "same.json"));
  EXPECT_EQ(run({"run", g, "--out", out.string()}).rc, 0);  // counters keep them apart
}

TEST(Robustness, V3StaleTemporaryFilesOfKilledRunsAreRemoved) {
  fs::path out = scratch() / "v3t";
  fs::remove_all(out);
  fs::create_directories(out / "s");
  // A process that has exited: its pid is free (reaped), as a SIGKILLed writer's would be.
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const std::string d = std::to_string(dead), alive = std::to_string(getpid());
  for (const std::string& name : {".run_00001_.json.tmp." + d + ".AbCdEf", ".run_00002_." + d + ".reserved",
                                  ".run_00003_.json.tmp." + alive + ".XyZ123"})
    std::ofstream(out / "s" / name) << "partial";
  EXPECT_EQ(run({"run", write("v3t.json", save_graph("s/run")), "--out", out.string()}).rc, 0);
  EXPECT_FALSE(fs::exists(out / "s" / (".run_00001_.json.tmp." + d + ".AbCdEf")));
  EXPECT_FALSE(fs::exists(out / "s" / (".run_00002_." + d + ".reserved")));
  EXPECT_TRUE(fs::exists(out / "s" / (".run_00003_.json.tmp." + alive + ".XyZ123")));  // its writer lives
}

// v3 1. A full disk while plots are written (PLplot reports no write error): the node fails
// naming the file, and no short PNG or SVG is left or listed.
TEST(Robustness, V3FullDiskLeavesNoShortPlot) {
  fs::path out = scratch() / "v3full";
  fs::remove_all(out);
  const std::string g = write("v3full.json", R"({
      "m": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8"}},
      "l": {"class_type": "EmptyLatent", "inputs": {"model": ["m", 0], "batch_size": 256}},
      "k": {"class_type": "KSampler", "inputs": {"model": ["m", 0], "latent_image": ["l", 0], "seed": 1, "steps": 4,
            "sampler_name": "euler", "scheduler": "karras"}},
      "p": {"class_type": "PlotSamples2D", "inputs": {"samples": ["k", 0], "filename_prefix": "plots/full"}}})");
  auto full = run({"run", g, "--out", out.string()}, {{kFileSizeLimit, "4096"}});
  expect_clear_error(full, 4, {"PlotSamples2D", "incomplete", "is the disk full?"});
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(out, ec))
    if (e.is_regular_file()) ADD_FAILURE() << "left behind: " << e.path() << " (" << e.file_size() << " bytes)";
  // With room, the same graph writes both plots whole.
  auto ok = run({"run", g, "--out", out.string()});
  ASSERT_EQ(ok.rc, 0) << ok.out;
  EXPECT_GT(fs::file_size(out / "plots" / "full_00001_.png"), 4096u);
  EXPECT_GT(fs::file_size(out / "plots" / "full_00001_.svg"), 4096u);
}

// v3 2. A tiny denoise inside its declared range: a clear error naming denoise, not an overflow
// (a SIGSEGV before), not a 25 GB allocation; refused by validation (API 3.1's product rule), so
// `validate` says so too and `run` starts nothing.
TEST(Robustness, V3TinyDenoiseIsAClearErrorNamingDenoise) {
  const std::string mixture = R"("m": {"class_type": "GaussianMixtureModel", "inputs": {"preset": "ring8"}})";
  for (const std::string& node :
       {std::string(
            R"("s": {"class_type": "ScoreOptimalScheduler", "inputs": {"model": ["m", 0], "denoise": 1e-300}})"),
        std::string(R"("s": {"class_type": "BasicScheduler", "inputs": {"model": ["m", 0], "scheduler": "karras",
             "steps": 10000, "denoise": 1e-5}})"),
        std::string(R"("s": {"class_type": "BasicScheduler", "inputs": {"model": ["m", 0], "scheduler": "optimal_steps",
             "steps": 20, "denoise": 1e-300}})")}) {
    const std::string graph = write("v3d.json", "{" + mixture + ", " + node + R"(,
        "o": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["s", 0], "filename_prefix": "d"}}})");
    for (const auto& args : {std::vector<std::string>{"validate", graph},
                             std::vector<std::string>{"run", graph, "--out", (scratch() / "v3d").string()}})
      expect_clear_error(run(args), 3, {"denoise", "steps / denoise = ", "is more than 1e+06", "int(steps / d)"});
  }
}

// v3 3. Validation stays linear when there is an error: a bad root under an 8,000-node chain with
// 8,000 output nodes on its tail (quadratic before: 14-31 s); each dependent_outputs list is capped.
TEST(Robustness, V3ValidationWithAnErrorIsLinear) {
  const size_t n = 8000;
  std::ostringstream g;
  g << "{\"src\": {\"class_type\": \"KarrasScheduler\", \"inputs\": {\"steps\": 0}},";
  for (size_t i = 0; i < n; ++i)
    g << "\"c" << i << "\": {\"class_type\": \"FlipSigmas\", \"inputs\": {\"sigmas\": [\""
      << (i == 0 ? std::string("src") : "c" + std::to_string(i - 1)) << "\", 0]}},";
  for (size_t i = 0; i < n; ++i)
    g << "\"o" << i << "\": {\"class_type\": \"SaveSigmas\", \"inputs\": {\"sigmas\": [\"c" << n - 1
      << "\", 0], \"filename_prefix\": \"s\"}}" << (i + 1 < n ? "," : "}");
  auto p = run({"validate", write("v3lin.json", g.str()), "--json"});
  expect_clear_error(p, 3, {"value_smaller_than_min"}, 1500, 200000);
  auto j = nlohmann::json::parse(p.out.substr(p.out.find('{')), nullptr, false);
  ASSERT_TRUE(j.is_object()) << p.out.substr(0, 500);
  EXPECT_EQ(j["node_errors"]["src"]["dependent_outputs"].size(), 100u);
  EXPECT_EQ(j["node_errors"]["src"]["dependent_outputs"][0], "o0");
}
