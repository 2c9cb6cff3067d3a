#pragma once

// The JSON result file of a `wharf bench` run: what `wharf bench compare` and the reports read
// back. The keys are exactly the C++ field names of perf/lib/result.h; latency summaries are
// nested objects, `curve` is an array of [percentile, us] pairs, `timeline` an array of objects
// and `settings` an object of strings. Doubles that are not finite are written as null and read
// back as NaN (JSON has no infinity).
//
// Reading is tolerant of missing keys (they keep result.h's defaults) and of unknown ones (a
// newer tool may add fields), but a value of the wrong type, or text that is not JSON, is an error
// that names the key: "produce_latency.p99_us: expected an unsigned integer, got string". Pure
// functions; safe from any thread. The file helpers block: not for a reactor thread.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "perf/lib/result.h"

namespace wharf::perf {

// Pretty-printed with a 2-space indent, ending in a newline.
std::string to_json(const run_result& r);

// The run in `text`, or nullopt with a message in *error (when error is not null).
std::optional<run_result> parse_result_json(std::string_view text, std::string* error);

// Writes to_json(r) to `path` through a temporary file beside it and a rename, so that a reader
// never sees half a file. False with a message in *error on failure.
bool write_result_file(const std::filesystem::path& path, const run_result& r, std::string* error);

// Reads and parses `path`; errors name the file.
std::optional<run_result> read_result_file(const std::filesystem::path& path, std::string* error);

}  // namespace wharf::perf
