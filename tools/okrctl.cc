// okrctl: the command line over the OKR planning API (docs/okrctl.md). All
// but the process boundary lives in the okrctl library (tools/okrctl/).
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "tools/okrctl/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return okr::okrctl::Run(
      args,
      [](const char* name) -> std::optional<std::string> {
        const char* value = std::getenv(name);
        if (value == nullptr || *value == '\0') return std::nullopt;
        return std::string(value);
      },
      std::cout, std::cerr);
}
