// bin/sigmaflow: the torch-free front (cli/app.h).
#include "cli/app.h"

int main(int argc, char** argv) { return sf::host::run_front(argc, argv); }
