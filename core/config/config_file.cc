#include "core/config/config_file.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
// Header-only: the broker reads one small file at start-up, and the package then needs no
// toml++ runtime library.
#define TOML_HEADER_ONLY 1
#include <toml++/toml.h>

#include "core/config/read_file.h"

namespace wharf {

namespace {

std::string key_of(const CLI::Option& opt) {
    return opt.get_lnames().empty() ? std::string() : opt.get_lnames().front();
}

std::string read_config_text(const std::string& path) {
    auto text = read_whole_file(path);
    if (!text) {
        throw config_file_error{
            fmt::format("cannot read config file {}: {}", path, text.error().message())};
    }
    return std::move(text).value();
}

// The value as the flag would have been typed on the command line. Only scalars: every setting
// is one value, and a table would hide a typo'd key inside a section nobody reads.
std::string value_text(const toml::node& value, const std::string& where) {
    if (const auto* s = value.as_string()) return s->get();
    if (const auto* i = value.as_integer()) return std::to_string(i->get());
    if (const auto* b = value.as_boolean()) return b->get() ? "true" : "false";
    const char* what = value.is_table()            ? "a table"
                       : value.is_array()          ? "an array"
                       : value.is_floating_point() ? "a floating-point number"
                                                   : "a date or time";
    throw config_file_error{fmt::format(
        "{}: is {}; expected a string, an integer or a boolean (sizes and durations as strings "
        "with a unit, such as \"512MiB\" or \"250ms\")",
        where, what)};
}

void apply_one(CLI::Option& opt, const std::string& text, const std::string& where) {
    try {
        opt.add_result(text);
        opt.run_callback();
    } catch (const CLI::Error& e) {
        throw config_file_error{fmt::format("{}: invalid value '{}': {}", where, text, e.what())};
    }
}

}  // namespace

setting_source setting_sources::of(const std::string& key) const {
    auto it = by_key.find(key);
    return it == by_key.end() ? setting_source::default_value : it->second;
}

bool is_meta_option(const std::string& key) {
    return key == "help" || key == "config" || key == "print-config" || key == "version";
}

setting_sources command_line_sources(const CLI::App& app) {
    setting_sources sources;
    for (const CLI::Option* opt : app.get_options()) {
        std::string key = key_of(*opt);
        if (key.empty() || is_meta_option(key)) continue;
        sources.by_key[key] =
            opt->count() > 0 ? setting_source::command_line : setting_source::default_value;
    }
    return sources;
}

void apply_config_file(CLI::App& app, const std::string& path, setting_sources& sources) {
    std::string text = read_config_text(path);
    toml::table table;
    try {
        table = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        throw config_file_error{fmt::format("{}:{}:{}: not valid TOML: {}", path,
                                            e.source().begin.line, e.source().begin.column,
                                            e.description())};
    }
    sources.config_path = path;
    // toml++ keeps keys sorted; in file order, the first mistake reported is the first one there.
    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (auto&& [raw_key, value] : table) entries.emplace_back(&raw_key, &value);
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        return a.first->source().begin.line < b.first->source().begin.line;
    });
    std::map<std::string, std::string> spelled;  // key -> how the file wrote it
    for (auto [raw_key, value] : entries) {
        std::string written(raw_key->str());
        std::string key = written;
        for (char& c : key) {
            if (c == '_') c = '-';
        }
        auto line = static_cast<int>(raw_key->source().begin.line);
        std::string where = fmt::format("{}:{}: key '{}'", path, line, written);
        CLI::Option* opt = is_meta_option(key) ? nullptr : app.get_option_no_throw("--" + key);
        if (opt == nullptr) {
            throw config_file_error{fmt::format(
                "{}: unknown key (keys are the flag names of `wharf --help` without the dashes)",
                where)};
        }
        if (auto [it, fresh] = spelled.emplace(key, written); !fresh) {
            throw config_file_error{fmt::format("{}: the same setting as key '{}' on line {}",
                                                where, it->second, sources.line_of[key])};
        }
        std::string text_value = value_text(*value, where);
        sources.line_of[key] = line;
        // The command line wins: the file only fills what it left unset.
        if (sources.of(key) == setting_source::command_line) continue;
        apply_one(*opt, text_value, where);
        sources.by_key[key] = setting_source::config_file;
    }
}

std::string locate_flag_error(std::string_view message, const setting_sources& sources) {
    size_t at = message.find("--");
    if (at == std::string_view::npos) return std::string(message);
    size_t end = at + 2;
    while (end < message.size() &&
           (std::isalnum(static_cast<unsigned char>(message[end])) || message[end] == '-')) {
        ++end;
    }
    std::string key(message.substr(at + 2, end - at - 2));
    if (sources.of(key) != setting_source::config_file) return std::string(message);
    auto line = sources.line_of.find(key);
    return fmt::format("{}:{}: key '{}': {}", sources.config_path,
                       line == sources.line_of.end() ? 0 : line->second, key, message);
}

}  // namespace wharf
