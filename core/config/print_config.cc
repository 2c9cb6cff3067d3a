#include "core/config/print_config.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include "core/config/broker_config.h"
#include "core/config/units.h"

namespace wharf {

namespace {

// A size that reads back as the same number of bytes: "512MiB" when a unit divides it, else
// the plain number (format_size rounds to one decimal, which --memory would refuse).
std::string exact_size(uint64_t bytes) {
    std::string pretty = format_size(bytes);
    auto back = parse_size(pretty);
    return back && *back == bytes ? pretty : std::to_string(bytes);
}

// TOML: booleans and integers bare, everything else a basic string.
std::string toml_value(const std::string& text) {
    if (text == "true" || text == "false") return text;
    bool digits =
        !text.empty() && text.size() <= 18 &&
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    // TOML integers have no leading zeros.
    if (digits && (text.size() == 1 || text[0] != '0')) return text;
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            out += fmt::format("\\u{:04X}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
            out += c;
        }
    }
    return out + "\"";
}

bool is_boolean(const CLI::Option& opt) {
    return opt.get_items_expected_max() == 0 || opt.get_type_name() == "BOOLEAN";
}

// A boolean as TOML writes it, whichever of CLI11's spellings it was given or defaulted in:
// a flag typed alone is an empty result, an unset flag an empty default, a captured default "1".
std::string boolean_text(const std::string& value, bool given) {
    if (value.empty()) return given ? "true" : "false";
    try {
        return CLI::detail::to_flag_value(value) > 0 ? "true" : "false";
    } catch (const std::exception&) {
        return value;  // CLI11 refused it already; never reached
    }
}

std::string value_of(const CLI::Option& opt, const std::string& key, const setting_sources& sources,
                     const std::map<std::string, std::string>& computed, bool* was_computed) {
    *was_computed = false;
    if (opt.count() > 0) {
        if (is_boolean(opt)) return boolean_text(opt.results().back(), true);
        return fmt::format("{}", fmt::join(opt.results(), ","));
    }
    std::string value = opt.get_default_str();
    if (is_boolean(opt)) return boolean_text(value, false);
    auto it = computed.find(key);
    if (value.empty() && sources.of(key) == setting_source::default_value && it != computed.end()) {
        *was_computed = true;
        return it->second;
    }
    return value;
}

std::string source_text(setting_source s, bool computed, const setting_sources& sources) {
    switch (s) {
        case setting_source::command_line:
            return "command line";
        case setting_source::config_file:
            return "config file " + sources.config_path;
        case setting_source::default_value:
            break;
    }
    return computed ? "default, decided at start-up" : "default";
}

}  // namespace

std::map<std::string, std::string> computed_defaults(const broker_config& cfg) {
    return {
        {"smp", std::to_string(cfg.smp)},
        {"cpuset", fmt::format("{}", fmt::join(cfg.cpus, ","))},
        {"memory", exact_size(cfg.memory_bytes)},
        {"max-inflight-request-bytes", exact_size(cfg.max_inflight_request_bytes_per_shard)},
    };
}

std::string format_effective_config(const CLI::App& app, const setting_sources& sources,
                                    const std::map<std::string, std::string>& computed) {
    // Groups in the order --help shows them.
    std::vector<std::string> groups;
    std::vector<const CLI::Option*> options;
    for (const CLI::Option* opt : app.get_options()) {
        if (opt->get_lnames().empty() || is_meta_option(opt->get_lnames().front())) continue;
        // Hidden options (no group: test hooks) are not settings anyone writes down.
        if (opt->get_group().empty()) continue;
        options.push_back(opt);
        if (std::find(groups.begin(), groups.end(), opt->get_group()) == groups.end()) {
            groups.push_back(opt->get_group());
        }
    }
    std::string out =
        "# wharf --print-config: the effective configuration, readable by --config.\n"
        "# The comment after each value says where it came from.\n";
    for (const std::string& group : groups) {
        out += fmt::format("\n# {}\n", group);
        for (const CLI::Option* opt : options) {
            if (opt->get_group() != group) continue;
            const std::string& key = opt->get_lnames().front();
            bool was_computed = false;
            std::string value = value_of(*opt, key, sources, computed, &was_computed);
            out += fmt::format("{} = {}  # {}\n", key, toml_value(value),
                               source_text(sources.of(key), was_computed, sources));
        }
    }
    return out;
}

}  // namespace wharf
