#include "perf/lib/workload.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <set>

namespace wharf::perf {

std::string workload_error::to_string() const {
    std::string where = line > 0 ? fmt::format("line {}: ", line) : "";
    if (key.empty()) {
        return where + message;
    }
    return fmt::format("{}key '{}': {}", where, key, message);
}

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
        s.remove_suffix(1);
    }
    return s;
}

// The line without its comment: a '#' outside a string.
std::string_view strip_comment(std::string_view line) {
    bool in_string = false;
    for (size_t i = 0; i < line.size(); ++i) {
        if (in_string && line[i] == '\\') {
            ++i;
        } else if (line[i] == '"') {
            in_string = !in_string;
        } else if (line[i] == '#' && !in_string) {
            return line.substr(0, i);
        }
    }
    return line;
}

// A non-negative number with an optional unit suffix; `units` maps suffix to multiplier.
// Integers only unless allow_fraction. nullopt on any malformed input or overflow.
struct unit {
    std::string_view suffix;
    double multiplier;
};

std::optional<double> parse_number(std::string_view v, std::initializer_list<unit> units,
                                   bool allow_fraction) {
    std::string digits;
    size_t i = 0;
    bool seen_dot = false;
    for (; i < v.size(); ++i) {
        char c = v[i];
        if (std::isdigit(static_cast<unsigned char>(c))) {
            digits.push_back(c);
        } else if (c == '_' && !digits.empty() && i + 1 < v.size() &&
                   std::isdigit(static_cast<unsigned char>(v[i + 1]))) {
            continue;
        } else if (c == '.' && allow_fraction && !seen_dot && !digits.empty()) {
            seen_dot = true;
            digits.push_back(c);
        } else {
            break;
        }
    }
    if (digits.empty() || digits.back() == '.' || digits.size() > 20) {
        return std::nullopt;
    }
    double number = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
        return std::nullopt;
    }
    std::string_view suffix = trim(v.substr(i));
    if (suffix.empty()) {
        return number;
    }
    for (const auto& u : units) {
        if (suffix == u.suffix) {
            return number * u.multiplier;
        }
    }
    return std::nullopt;
}

class parser {
public:
    explicit parser(workload& w) : _w(w) {}

    std::optional<workload_error> line(int number, std::string_view text);

private:
    std::optional<workload_error> assign(std::string_view key, std::string_view value);
    std::optional<std::string> integer(std::string_view value, int64_t low, int64_t high,
                                       int64_t& out);
    std::optional<std::string> bytes(std::string_view value, uint64_t low, uint64_t high,
                                     uint64_t& out);
    std::optional<std::string> size(std::string_view value, uint32_t& out);
    std::optional<std::string> size_list(std::string_view value, std::vector<uint32_t>& out);
    std::optional<std::string> duration(std::string_view value, std::chrono::microseconds& out);
    std::optional<std::string> string(std::string_view value, std::string& out);

    workload& _w;
    std::string _section;
    std::set<std::string> _seen;
    int _line = 0;
};

std::optional<std::string> parser::integer(std::string_view value, int64_t low, int64_t high,
                                           int64_t& out) {
    auto n = parse_number(value, {}, false);
    if (!n) {
        return "expected a non-negative integer";
    }
    if (*n < static_cast<double>(low) || *n > static_cast<double>(high)) {
        return fmt::format("{} is outside [{}, {}]", value, low, high);
    }
    out = static_cast<int64_t>(*n);
    return std::nullopt;
}

// A whole number of bytes in [low, high], with an optional unit.
std::optional<std::string> parser::bytes(std::string_view value, uint64_t low, uint64_t high,
                                         uint64_t& out) {
    auto n = parse_number(value,
                          {{"B", 1},
                           {"KB", 1e3},
                           {"MB", 1e6},
                           {"GB", 1e9},
                           {"KiB", 1024.0},
                           {"MiB", 1024.0 * 1024},
                           {"GiB", 1024.0 * 1024 * 1024}},
                          true);
    if (!n || *n != std::floor(*n)) {
        return fmt::format("'{}' is not a whole size (1024, 1KiB, 1.5MB, ...)", value);
    }
    if (*n < static_cast<double>(low) || *n > static_cast<double>(high)) {
        return fmt::format("{} is outside [{} B, {} B]", value, low, high);
    }
    out = static_cast<uint64_t>(*n);
    return std::nullopt;
}

std::optional<std::string> parser::size(std::string_view value, uint32_t& out) {
    uint64_t n = 0;
    auto err = bytes(value, 1, max_message_bytes, n);
    if (!err) {
        out = static_cast<uint32_t>(n);
    }
    return err;
}

// A list of sizes: `[100, 1KiB, 4KiB]`, a trailing comma allowed, at most
// max_message_size_choices items.
std::optional<std::string> parser::size_list(std::string_view value, std::vector<uint32_t>& out) {
    std::optional<std::string> err;
    if (value.size() < 2 || value.front() != '[' || value.back() != ']') {
        err = "expected a list of sizes in [ ]";
    } else {
        out.clear();
        std::string_view items = value.substr(1, value.size() - 2);
        while (!err) {
            size_t comma = items.find(',');
            std::string_view item = trim(items.substr(0, comma));
            if (item.empty() && comma == std::string_view::npos && !out.empty()) {
                break;  // a trailing comma
            }
            if (out.size() == max_message_size_choices) {
                err = fmt::format("more than {} sizes", max_message_size_choices);
                break;
            }
            uint32_t bytes = 0;
            err = item.empty() ? std::optional<std::string>("empty list item") : size(item, bytes);
            out.push_back(bytes);
            if (comma == std::string_view::npos) {
                break;
            }
            items.remove_prefix(comma + 1);
        }
    }
    return err;
}

std::optional<std::string> parser::duration(std::string_view value,
                                            std::chrono::microseconds& out) {
    auto n =
        parse_number(value, {{"us", 1}, {"ms", 1e3}, {"s", 1e6}, {"m", 60e6}, {"h", 3600e6}}, true);
    if (!n || trim(value).find_first_not_of("0123456789_.") == std::string_view::npos) {
        return fmt::format("'{}' is not a duration with a unit (500ms, 30s, 5m, 1h)", value);
    }
    if (*n > 7 * 24 * 3600e6) {
        return fmt::format("{} is longer than a week", value);
    }
    out = std::chrono::microseconds(static_cast<int64_t>(std::llround(*n)));
    return std::nullopt;
}

std::optional<std::string> parser::string(std::string_view value, std::string& out) {
    if (value.size() < 2 || value.front() != '"' || value.back() != '"') {
        return "expected a string in double quotes";
    }
    out.clear();
    for (size_t i = 1; i + 1 < value.size(); ++i) {
        char c = value[i];
        if (c == '"') {
            return "unescaped '\"' inside the string";
        }
        if (c == '\\') {
            if (i + 2 >= value.size() || (value[i + 1] != '"' && value[i + 1] != '\\')) {
                return "only \\\" and \\\\ escapes are supported";
            }
            c = value[++i];
        }
        out.push_back(c);
    }
    return std::nullopt;
}

std::optional<workload_error> parser::line(int number, std::string_view text) {
    _line = number;
    text = trim(strip_comment(text));
    if (text.empty()) {
        return std::nullopt;
    }
    if (text.front() == '[') {
        if (text.back() != ']') {
            return workload_error{number, "", "a section header must end with ']'"};
        }
        std::string name(trim(text.substr(1, text.size() - 2)));
        if (name != "producer" && name != "consumer" && name != "run") {
            return workload_error{
                number, "", fmt::format("unknown section [{}] (producer, consumer, run)", name)};
        }
        _section = name;
        return std::nullopt;
    }
    size_t eq = text.find('=');
    if (eq == std::string_view::npos) {
        return workload_error{number, "", "expected 'key = value' or '[section]'"};
    }
    std::string_view key = trim(text.substr(0, eq));
    std::string_view value = trim(text.substr(eq + 1));
    std::string full = _section.empty() ? std::string(key) : _section + "." + std::string(key);
    if (key.empty()) {
        return workload_error{number, "", "missing key before '='"};
    }
    if (value.empty()) {
        return workload_error{number, full, "missing value"};
    }
    if (!_seen.insert(full).second) {
        return workload_error{number, full, "repeated key"};
    }
    return assign(full, value);
}

std::optional<workload_error> parser::assign(std::string_view key, std::string_view value) {
    std::optional<std::string> err;
    int64_t n = 0;
    auto int_field = [&](int32_t& field, int64_t low, int64_t high) {
        err = integer(value, low, high, n);
        if (!err) {
            field = static_cast<int32_t>(n);
        }
    };
    if (key == "name") {
        err = string(value, _w.name);
    } else if (key == "topics") {
        int_field(_w.topics, 1, max_topics);
    } else if (key == "partitions") {
        int_field(_w.partitions, 1, max_partitions);
    } else if (key == "message_size") {
        uint32_t bytes = 0;
        err = size(value, bytes);
        _w.message_sizes = {bytes};
    } else if (key == "message_sizes") {
        err = size_list(value, _w.message_sizes);
    } else if (key == "key_distribution") {
        std::string kind;
        err = string(value, kind);
        if (!err) {
            if (kind == "none") {
                _w.keys = key_distribution::none;
            } else if (kind == "random") {
                _w.keys = key_distribution::random;
            } else if (kind == "round-robin") {
                _w.keys = key_distribution::round_robin;
            } else {
                err = fmt::format("'{}' is not none, random or round-robin", kind);
            }
        }
    } else if (key == "producer.producers") {
        int_field(_w.producers, 0, max_clients);
    } else if (key == "producer.rate") {
        auto rate = parse_number(value, {}, true);
        if (!rate || *rate > 1e9) {
            err = "expected messages per second, 0 to 1e9 (0 = unlimited)";
        } else {
            _w.rate_per_s = *rate;
        }
    } else if (key == "consumer.groups") {
        int_field(_w.consumer_groups, 0, max_clients);
    } else if (key == "consumer.consumers_per_group") {
        int_field(_w.consumers_per_group, 1, max_clients);
    } else if (key == "consumer.backlog") {
        err = bytes(value, 0, max_backlog_bytes, _w.backlog_bytes);
    } else if (key == "run.duration") {
        err = duration(value, _w.duration);
    } else if (key == "run.warmup") {
        err = duration(value, _w.warmup);
    } else {
        err = "unknown key";
    }
    if (err) {
        return workload_error{_line, std::string(key), *err};
    }
    return std::nullopt;
}

}  // namespace

workload_result parse_workload(std::string_view text) {
    workload_result result;
    parser p(result.value);
    int number = 0;
    while (!text.empty()) {
        ++number;
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (auto err = p.line(number, line)) {
            result.error = std::move(err);
            return result;
        }
    }
    if (result.value.duration.count() == 0) {
        result.error = workload_error{0, "run.duration", "must be longer than 0"};
    } else if (static_cast<int64_t>(result.value.consumer_groups) *
                   result.value.consumers_per_group >
               max_clients) {
        result.error = workload_error{0, "consumer.consumers_per_group",
                                      fmt::format("more than {} consumers in all", max_clients)};
    }
    return result;
}

}  // namespace wharf::perf
