#include "cli/app.h"

int main(int argc, char** argv) { return sf::host::run_cli(argc, argv); }
