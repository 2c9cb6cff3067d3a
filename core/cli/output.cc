#include "core/cli/output.h"

#include <algorithm>
#include <charconv>
#include <iostream>
#include <set>
#include <string_view>

namespace wharf::cli {

namespace {

// A cell written as a JSON number: an integer in canonical form (so "007" stays a string) in a
// column that does not hold names or values chosen by users (a topic called "42" stays "42").
bool is_number_cell(const std::string& column, const std::string& s) {
    static const std::set<std::string, std::less<>> named{
        "topic", "group", "member", "client_id", "host", "id", "config", "value", "result"};
    if (named.contains(column)) return false;
    if (s.empty() || s.size() > 18) return false;
    std::string_view digits = s[0] == '-' ? std::string_view(s).substr(1) : std::string_view(s);
    if (digits.empty() || (digits[0] == '0' && digits.size() > 1)) return false;
    long long v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size();
}

void json_string(std::ostream& out, const std::string& s) {
    out << '"';
    for (char c : s) {
        switch (c) {
            case '"':
                out << "\\\"";
                break;
            case '\\':
                out << "\\\\";
                break;
            case '\n':
                out << "\\n";
                break;
            case '\t':
                out << "\\t";
                break;
            case '\r':
                out << "\\r";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof(buf), "\\u%04x", c);
                    out << buf;
                } else {
                    out << c;
                }
        }
    }
    out << '"';
}

}  // namespace

void table::print(std::ostream& out) const {
    std::vector<size_t> widths(columns.size(), 0);
    for (size_t i = 0; i < columns.size(); ++i) widths[i] = columns[i].size();
    for (const auto& row : rows) {
        for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
            widths[i] = std::max(widths[i], row[i].size());
        }
    }
    auto line = [&](const std::vector<std::string>& cells, bool upper) {
        std::string text;
        for (size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
            std::string cell = cells[i];
            if (upper) std::transform(cell.begin(), cell.end(), cell.begin(), ::toupper);
            text += cell;
            if (i + 1 < cells.size()) text += std::string(widths[i] - cell.size() + 2, ' ');
        }
        out << text << '\n';
    };
    line(columns, true);
    for (const auto& row : rows) line(row, false);
}

void table::print_json(std::ostream& out) const {
    out << '[';
    for (size_t r = 0; r < rows.size(); ++r) {
        out << (r == 0 ? "\n  {" : ",\n  {");
        for (size_t i = 0; i < columns.size() && i < rows[r].size(); ++i) {
            if (i > 0) out << ", ";
            json_string(out, columns[i]);
            out << ": ";
            if (is_number_cell(columns[i], rows[r][i])) {
                out << rows[r][i];
            } else {
                json_string(out, rows[r][i]);
            }
        }
        out << '}';
    }
    out << (rows.empty() ? "]\n" : "\n]\n");
}

void print(const table& t, bool json) {
    if (json) {
        t.print_json(std::cout);
    } else {
        t.print(std::cout);
    }
}

}  // namespace wharf::cli
