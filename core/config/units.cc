#include "core/config/units.h"

#include <charconv>
#include <limits>

#include <fmt/format.h>

namespace wharf {

namespace {

struct split_number {
    uint64_t value = 0;
    std::string_view suffix;
};

result<split_number> split(std::string_view text) {
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    split_number out;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out.value);
    if (ec != std::errc() || p == text.data()) {
        return std::make_error_code(std::errc::invalid_argument);
    }
    out.suffix = text.substr(static_cast<size_t>(p - text.data()));
    while (!out.suffix.empty() && out.suffix.front() == ' ') out.suffix.remove_prefix(1);
    return out;
}

result<uint64_t> checked_multiply(uint64_t v, uint64_t m) {
    if (m != 0 && v > std::numeric_limits<uint64_t>::max() / m) {
        return std::make_error_code(std::errc::value_too_large);
    }
    return v * m;
}

}  // namespace

result<uint64_t> parse_size(std::string_view text) {
    WHARF_TRY(n, split(text));
    struct unit {
        std::string_view name;
        uint64_t factor;
    };
    static constexpr unit units[] = {
        {"", 1},
        {"B", 1},
        {"K", 1ull << 10},
        {"KiB", 1ull << 10},
        {"KB", 1000ull},
        {"M", 1ull << 20},
        {"MiB", 1ull << 20},
        {"MB", 1000ull * 1000},
        {"G", 1ull << 30},
        {"GiB", 1ull << 30},
        {"GB", 1000ull * 1000 * 1000},
        {"T", 1ull << 40},
        {"TiB", 1ull << 40},
        {"TB", 1000ull * 1000 * 1000 * 1000},
    };
    for (const auto& u : units) {
        if (n.suffix == u.name) return checked_multiply(n.value, u.factor);
    }
    return std::make_error_code(std::errc::invalid_argument);
}

result<std::chrono::nanoseconds> parse_duration(std::string_view text,
                                                std::chrono::nanoseconds default_unit) {
    WHARF_TRY(n, split(text));
    using namespace std::chrono;
    struct unit {
        std::string_view name;
        uint64_t ns;
    };
    static constexpr unit units[] = {
        {"ns", 1},
        {"us", 1000},
        {"ms", 1000'000},
        {"s", 1000'000'000},
        {"m", 60ull * 1000'000'000},
        {"h", 3600ull * 1000'000'000},
        {"d", 86400ull * 1000'000'000},
    };
    uint64_t factor = 0;
    if (n.suffix.empty()) {
        factor = static_cast<uint64_t>(default_unit.count());
    } else {
        for (const auto& u : units) {
            if (n.suffix == u.name) factor = u.ns;
        }
        if (factor == 0) return std::make_error_code(std::errc::invalid_argument);
    }
    WHARF_TRY(ns, checked_multiply(n.value, factor));
    if (ns > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return std::make_error_code(std::errc::value_too_large);
    }
    return nanoseconds(static_cast<int64_t>(ns));
}

std::string format_size(uint64_t bytes) {
    static constexpr const char* names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    // Exact when a binary unit divides the size (flags, --help); otherwise one decimal place
    // in the largest unit (logs): 536870912 -> "512MiB", 12637229056 -> "11.8GiB".
    int exact = 0;
    uint64_t e = bytes;
    while (e >= 1024 && e % 1024 == 0 && exact < 4) {
        e /= 1024;
        ++exact;
    }
    int approx = 0;
    double v = static_cast<double>(bytes);
    while (v >= 1024 && approx < 4) {
        v /= 1024;
        ++approx;
    }
    if (approx == exact) return fmt::format("{}{}", e, names[exact]);
    return fmt::format("{:.1f}{}", v, names[approx]);
}

}  // namespace wharf
