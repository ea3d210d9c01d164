// sigmaflow-plugin-scanner: loads one plugin in a fresh process and reports what it registers
// (host/plugins/scanner.h). Started by the host with exec, never by hand:
//   sigmaflow-plugin-scanner <fd> <plugin path>...
// The report goes to file descriptor <fd>; stdout and stderr go to /dev/null (plugin output must
// not corrupt it). GStreamer's gst-plugin-scanner is the model.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "plugins/plugin_loader.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <fd> <plugin path>... (started by sigmaflow to scan plugins)\n", argv[0]);
    return 2;
  }
  char* end = nullptr;
  const long fd = std::strtol(argv[1], &end, 10);
  if (*end != '\0' || fd < 3) {
    std::fprintf(stderr, "%s: bad file descriptor '%s'\n", argv[0], argv[1]);
    return 2;
  }
  sf::host::scan_and_exit(std::vector<std::string>(argv + 2, argv + argc), static_cast<int>(fd));
}
