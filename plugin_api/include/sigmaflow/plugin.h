// The plugin entry point. A plugin is one shared library with one exported symbol, defined by:
//
//   #include <sigmaflow/plugin.h>
//   SIGMAFLOW_PLUGIN("my_plugin", "1.0") { registrar.add_node(...); }
//
// The body runs once when the host loads the plugin; `registrar` is an sf::Registrar&.
// Exceptions thrown by the body are caught here and reported by the host as a failed load.
// The macro also places the build record in the ELF section SIGMAFLOW_RECORD_SECTION, where the
// host reads it before loading anything.
#pragma once

#include <cstdio>
#include <exception>

#include "sigmaflow/build_record.h"
#include "sigmaflow/node.h"

#if __has_include(<torch/version.h>)
#include <torch/version.h>
#endif
#ifndef TORCH_VERSION
#define TORCH_VERSION "unknown"
#endif

#ifndef SIGMAFLOW_TORCH_CUDA
#define SIGMAFLOW_TORCH_CUDA 0  // set to 1 by sigmaflow_add_plugin for a CUDA LibTorch
#endif

#ifdef __clang__
#define SF_COMPILER_ID "clang " __clang_version__
#else
#define SF_COMPILER_ID "gcc " __VERSION__
#endif

#define SF_BUILD_RECORD_INIT(NAME, VERSION)                                                                            \
  {                                                                                                                    \
    {'S', 'F', 'P', 'L', 'U', 'G', 'I', 'N'}, sizeof(sf_build_record), SIGMAFLOW_PLUGIN_API_MAJOR,                     \
        SIGMAFLOW_PLUGIN_API_MINOR, _GLIBCXX_USE_CXX11_ABI, SIGMAFLOW_TORCH_CUDA, TORCH_VERSION, SF_COMPILER_ID, NAME, \
        VERSION                                                                                                        \
  }

#define SIGMAFLOW_PLUGIN(NAME, VERSION)                                                                     \
  static void sf_plugin_register_(::sf::Registrar& registrar);                                              \
  static int sf_plugin_init_(void* registrar, char* error, size_t error_len) noexcept {                     \
    try {                                                                                                   \
      sf_plugin_register_(*static_cast<::sf::Registrar*>(registrar));                                       \
      return 0;                                                                                             \
    } catch (const std::exception& e) {                                                                     \
      std::snprintf(error, error_len, "%s", e.what());                                                      \
    } catch (...) {                                                                                         \
      std::snprintf(error, error_len, "unknown exception");                                                 \
    }                                                                                                       \
    return 1;                                                                                               \
  }                                                                                                         \
  extern "C" __attribute__((visibility("default")))                                                         \
  const sf_plugin_entry sigmaflow_plugin_entry = {SF_BUILD_RECORD_INIT(NAME, VERSION), &sf_plugin_init_};   \
  __attribute__((section(SIGMAFLOW_RECORD_SECTION), used)) static const sf_build_record sf_plugin_record_ = \
      SF_BUILD_RECORD_INIT(NAME, VERSION);                                                                  \
  static void sf_plugin_register_(::sf::Registrar& registrar)
