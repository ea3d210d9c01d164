// The plugin build record: plain C data describing how a plugin was built. The host reads it from
// the plugin file's ELF section `sigmaflow_record` WITHOUT loading the library, so a plugin whose
// symbols cannot even be resolved (another C++ ABI, another LibTorch) is still refused with the
// reason, not a linker message. The same record is part of the entry symbol. Its layout is frozen
// for a plugin API major version (tests pin it).
//
// Rule: same api_major, api_minor <= the host's, identical torch version, CUDA variant and C++11
// ABI flag; otherwise the host refuses the plugin naming both values. docs/plugin-abi.md says
// what bumps the major.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SIGMAFLOW_PLUGIN_API_MAJOR 3
#define SIGMAFLOW_PLUGIN_API_MINOR 3

// The single exported symbol of every plugin, and the ELF section holding its build record.
#define SIGMAFLOW_PLUGIN_ENTRY_SYMBOL "sigmaflow_plugin_entry"
#define SIGMAFLOW_RECORD_SECTION "sigmaflow_record"
#define SIGMAFLOW_RECORD_MAGIC "SFPLUGIN"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sf_build_record {
  char magic[8];         // SIGMAFLOW_RECORD_MAGIC without its NUL
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
