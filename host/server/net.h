// `sigmaflow serve`: ComfyUI's HTTP and websocket API on Boost.Beast (docs/server.md).
#pragma once

#include "exec/node_source.h"
#include "server/server_core.h"

namespace sf::host {

// Serves until SIGINT or SIGTERM (then interrupts the running prompt, removes in-flight
// temporary files and returns 0). Prints "listening on http://HOST:PORT" once bound (port 0
// picks a free one). Returns 1 when it cannot listen, 2 for a bad --listen address.
int run_server(const NodeSource& source, const ServeOptions& options);

}  // namespace sf::host
