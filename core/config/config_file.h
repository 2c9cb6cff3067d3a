#pragma once

// The broker's config file (`wharf --config FILE`): TOML whose keys are the flag names without
// the leading dashes (`kafka-addr = "0.0.0.0:9092"`; `kafka_addr` also works). A flat
// `key = value` file is valid TOML, so both forms of the issue are one format. Every value goes
// through the flag's own parsing and validation, as if it had been typed on the command line;
// flags given on the command line win over the file. Also here: where each setting came from,
// for `wharf --print-config`.
//
// Used once, in main's flag parsing, before any shard starts; nothing here runs on a reactor.

#include <map>
#include <string>
#include <string_view>

namespace CLI {
class App;
}

namespace wharf {

enum class setting_source { default_value, config_file, command_line };

// Where each setting's value came from, by key (the flag name without dashes).
struct setting_sources {
    std::string config_path;  // empty without --config
    std::map<std::string, setting_source> by_key;
    std::map<std::string, int> line_of;  // the config file's line of each key it sets

    setting_source of(const std::string& key) const;
};

// A config file that cannot be used: unreadable, not TOML, an unknown key, a value of the wrong
// type, or a value the flag refuses. The message names the file and, when there is one, the key.
struct config_file_error {
    std::string message;
};

// Every setting of `app` (after app.parse) marked default or command line.
setting_sources command_line_sources(const CLI::App& app);

// Reads the TOML file at `path` and gives each setting that the command line left unset the
// file's value, through the option's own conversion and checks; marks those as config_file.
// Throws config_file_error.
void apply_config_file(CLI::App& app, const std::string& path, setting_sources& sources);

// A validation message such as "invalid value '12XB' for --segment-bytes: ..." with, when that
// flag's value came from the config file, the file and key in front of it.
std::string locate_flag_error(std::string_view message, const setting_sources& sources);

// The settings that are not broker configuration: never read from a file nor printed.
bool is_meta_option(const std::string& key);

}  // namespace wharf
