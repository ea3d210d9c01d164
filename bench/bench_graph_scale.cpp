// Graph size against validation cost: `sigmaflow validate` (parse + validate + plan) on FlipSigmas
// chains of 10^4, 10^5 and 10^6 nodes and on the 20-layer LatentToNoise / SamplerCustomAdvanced
// diamond, each in a child process; wall time and peak resident memory from wait4. The first row
// is a 3-node graph: the fixed cost of starting the front (which links no LibTorch). Goal: the
// 10^6-node chain in under 2 s and 500 MB (docs/limits.md).
//   bench_graph_scale [max_nodes]   (default 1000000)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Measure {
  double seconds = 0;
  long rss_mb = 0;
  int rc = -1;
};

Measure validate(const std::string& graph) {
  std::fflush(stdout);  // the child must not inherit (and print) buffered rows
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(127);
    execl(SF_SIGMAFLOW_EXE, SF_SIGMAFLOW_EXE, "validate", graph.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  Measure m;
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.rss_mb = ru.ru_maxrss / 1024;
  m.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return m;
}

std::string chain(size_t n, const fs::path& dir) {
  fs::path p = dir / ("chain_" + std::to_string(n) + ".json");
  std::ofstream f(p);
  f << "{";
  for (size_t i = 0; i < n; ++i)
    f << "\"" << i << "\":{\"class_type\":\"FlipSigmas\",\"inputs\":{\"sigmas\":[\""
      << (i + 1 < n ? std::to_string(i + 1) : std::string("src")) << "\",0]}},";
  f << R"("src":{"class_type":"KarrasScheduler","inputs":{"steps":3}},)"
    << R"("o":{"class_type":"SaveSigmas","inputs":{"sigmas":["0",0],"filename_prefix":"s"}}})";
  return p.string();
}

std::string diamond(int layers, const fs::path& dir) {
  fs::path p = dir / "diamond.json";
  std::ofstream f(p);
  f << R"({"m":{"class_type":"GaussianMixtureModel","inputs":{"preset":"ring8"}},)"
    << R"("s":{"class_type":"KSamplerSelect","inputs":{}},"g":{"class_type":"BasicGuider","inputs":{"model":["m",0]}},)"
    << R"("q":{"class_type":"KarrasScheduler","inputs":{"steps":1}},)"
    << R"("l0":{"class_type":"EmptyLatent","inputs":{"model":["m",0]}},)";
  for (int k = 1; k <= layers; ++k)
    f << "\"n" << k << "\":{\"class_type\":\"LatentToNoise\",\"inputs\":{\"latent\":[\"l" << k - 1 << "\",0]}},\"l" << k
      << "\":{\"class_type\":\"SamplerCustomAdvanced\",\"inputs\":{\"noise\":[\"n" << k
      << "\",0],\"guider\":[\"g\",0],\"sampler\":[\"s\",0],\"sigmas\":[\"q\",0],\"latent_image\":[\"l" << k - 1
      << "\",0]}},";
  f << "\"o\":{\"class_type\":\"SaveLatent\",\"inputs\":{\"samples\":[\"l" << layers
    << "\",0],\"filename_prefix\":\"d\"}}}";
  return p.string();
}

}  // namespace

int main(int argc, char** argv) {
  const size_t max_nodes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  fs::path dir = fs::temp_directory_path() / "sigmaflow-bench-graph";
  fs::create_directories(dir);
  std::printf("| graph | nodes | file MB | validate s | peak RSS MB | exit |\n|---|---|---|---|---|---|\n");
  auto row = [&](const std::string& name, size_t nodes, const std::string& path) {
    Measure m = validate(path);
    std::printf("| %s | %zu | %.1f | %.2f | %ld | %d |\n", name.c_str(), nodes,
                static_cast<double>(fs::file_size(path)) / 1e6, m.seconds, m.rss_mb, m.rc);
    std::fflush(stdout);
  };
  row("chain", 3, chain(1, dir));
  for (size_t n = 10000; n <= max_nodes; n *= 10) row("chain", n + 2, chain(n, dir));
  row("diamond, 20 layers", 45, diamond(20, dir));
  fs::remove_all(dir);
  return 0;
}
