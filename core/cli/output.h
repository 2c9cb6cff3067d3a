#pragma once

// Output of the `wharf` CLI: a fixed-width table for people, or JSON (an array of objects with
// the same columns) for scripts. Cells are strings; numbers are formatted by the caller.

#include <iosfwd>
#include <string>
#include <vector>

namespace wharf::cli {

struct table {
    std::vector<std::string> columns;
    std::vector<std::vector<std::string>> rows;

    void add(std::vector<std::string> row) { rows.push_back(std::move(row)); }
    // Columns padded to their widest cell, separated by two spaces; headers upper-case.
    void print(std::ostream& out) const;
    // [{"column": "cell", ...}, ...]; integer cells are numbers, except in the columns of names
    // and user values (topic, group, member, config value, ...), which stay strings.
    void print_json(std::ostream& out) const;
};

void print(const table& t, bool json);

}  // namespace wharf::cli
