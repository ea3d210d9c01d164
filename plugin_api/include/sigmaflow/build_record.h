// The plugin build record: plain C data the host reads from a shared library before any C++
// object crosses the boundary. Its layout is frozen for a plugin API major version (tests pin
// it). Rule: same api_major, api_minor <= the host's, identical torch version, CUDA variant,
// C++11 ABI flag; otherwise the host refuses the plugin naming both values.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SIGMAFLOW_PLUGIN_API_MAJOR 1
#define SIGMAFLOW_PLUGIN_API_MINOR 0

// The single exported symbol of every plugin.
#define SIGMAFLOW_PLUGIN_ENTRY_SYMBOL "sigmaflow_plugin_entry"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sf_build_record {
  uint32_t record_size;  // sizeof(sf_build_record) as the plugin saw it
  uint32_t api_major;
  uint32_t api_minor;
  int32_t cxx11_abi;        // _GLIBCXX_USE_CXX11_ABI
  int32_t torch_cuda;       // 1 if built against a CUDA LibTorch
  char torch_version[32];   // TORCH_VERSION, e.g. "1.13.0"
  char compiler[64];        // __VERSION__ (truncated)
  char plugin_name[64];     // the plugin's own name
  char plugin_version[32];  // the plugin's own version string
} sf_build_record;

// Init: registers the plugin's nodes into `registrar` (an sf::Registrar*). Returns 0 on success;
// otherwise writes a NUL-terminated message into `error` (at most error_len bytes). Never throws.
typedef int (*sf_plugin_init_fn)(void* registrar, char* error, size_t error_len);

typedef struct sf_plugin_entry {
  sf_build_record record;
  sf_plugin_init_fn init;
} sf_plugin_entry;

#ifdef __cplusplus
}
#endif
