// Thread counts for LibTorch and the BLAS under it.
#pragma once

namespace sf::host {

// LibTorch's intra-op pool gets `intra_op` threads, and OpenBLAS (when it is the BLAS in this
// process) gets 1: LibTorch already runs its ops, matmuls included, across its own threads, and a
// second pool per call oversubscribes the cores. Measured on a 2-core machine: the 784-D
// score-optimal estimate took 9.5-12 s with both pools and 4.1 s with one.
void configure_threads(int intra_op);

}  // namespace sf::host
