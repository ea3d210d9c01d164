// What sigmaflow_add_plugin(... PCH) precompiles for a plugin: LibTorch's ATen and the plugin API.
// Parsing <ATen/ATen.h> costs seconds per source file; precompiled once, it costs one compile.
#pragma once

#include <ATen/ATen.h>

#include "sigmaflow/plugin.h"
