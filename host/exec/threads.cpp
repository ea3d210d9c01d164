#include "exec/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

namespace sf::host {

void configure_threads(int intra_op) {
  at::set_num_threads(intra_op);
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(1);
}

}  // namespace sf::host
