#pragma once

// `wharf --print-config`: the effective configuration, every setting, as a TOML file that
// `--config` accepts back, each line ending in a comment that says where the value came from
// (default, the config file, the command line).

#include <map>
#include <string>

#include "core/config/config_file.h"

namespace CLI {
class App;
}

namespace wharf {

struct broker_config;

// The values that validation decides for settings whose default is "work it out at start-up"
// (--smp: one per CPU, --memory: half the machine, ...), by key.
std::map<std::string, std::string> computed_defaults(const broker_config& cfg);

// Every setting of `app` after parsing, grouped as in --help.
std::string format_effective_config(const CLI::App& app, const setting_sources& sources,
                                    const std::map<std::string, std::string>& computed);

}  // namespace wharf
