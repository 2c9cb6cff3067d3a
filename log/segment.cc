#include "log/segment.h"

#include <fcntl.h>
#include <linux/falloc.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "reactor/base/assert.h"

namespace wharf {

namespace {

// 20 digits hold any non-negative int64 and make lexical order numeric order.
constexpr size_t name_digits = 20;

std::optional<raft_index> parse_name(std::string_view name, std::string_view suffix) {
    if (name.size() != name_digits + suffix.size() || !name.ends_with(suffix)) return std::nullopt;
    int64_t v = 0;
    auto digits = name.substr(0, name_digits);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || p != digits.data() + digits.size() || v <= 0) return std::nullopt;
    return raft_index(v);
}

}  // namespace

std::string segment_file_name(raft_index first) {
    return fmt::format("{:020d}{}", first.value(), segment_suffix);
}

std::string index_file_name(raft_index first) {
    return fmt::format("{:020d}{}", first.value(), index_suffix);
}

std::optional<raft_index> parse_segment_file_name(std::string_view name) {
    return parse_name(name, segment_suffix);
}

std::optional<raft_index> parse_index_file_name(std::string_view name) {
    return parse_name(name, index_suffix);
}

segment::segment(uint32_t seq, raft_index base, std::string dir, file f,
                 uint64_t size_bytes) noexcept
    : _seq(seq), _base(base), _last(base - 1), _dir(std::move(dir)), _file(std::move(f)),
      _size(size_bytes), _created(steady_now()) {}

segment::~segment() = default;

std::string segment::path() const { return _dir + "/" + segment_file_name(_base); }

std::string segment::index_path() const { return _dir + "/" + index_file_name(_base); }

void segment::note_entry(raft_index index, term_id term, uint64_t size_bytes) {
    WHARF_ASSERT(index == _last + 1, "entry {} noted after {} in segment {}", index, _last, _base);
    WHARF_ASSERT(size_bytes > _size, "segment size {} does not grow past {}", size_bytes, _size);
    if (_terms.empty() || _terms.back().term != term) {
        WHARF_ASSERT(_terms.empty() || _terms.back().term < term, "term {} after term {}", term,
                     _terms.back().term);
        _terms.push_back(term_run{index, term});
    }
    _last = index;
    _size = size_bytes;
}

void segment::cut_to(raft_index last, uint64_t size_bytes) {
    WHARF_ASSERT(last >= _base - 1 && last <= _last && size_bytes <= _size,
                 "segment {} ({}..{}, {} bytes) cut to {} at {} bytes", _base, _base, _last, _size,
                 last, size_bytes);
    WHARF_ASSERT((last < _base) == (size_bytes == 0), "segment {} cut to {} at {} bytes", _base,
                 last, size_bytes);
    while (!_terms.empty() && _terms.back().first > last) _terms.pop_back();
    _last = last;
    _size = size_bytes;
    _points.cut_after(last);
}

std::optional<term_id> segment::term_at(raft_index index) const noexcept {
    if (index < _base || index > _last) return std::nullopt;
    auto it = std::partition_point(_terms.begin(), _terms.end(),
                                   [index](const term_run& r) { return r.first <= index; });
    if (it == _terms.begin()) return std::nullopt;
    return std::prev(it)->term;
}

std::optional<term_id> segment::last_term() const noexcept {
    if (_terms.empty()) return std::nullopt;
    return _terms.back().term;
}

void segment::set_term_runs(std::vector<term_run> runs, raft_index last, uint64_t size_bytes) {
    WHARF_ASSERT(runs.empty() == (last < _base), "term runs disagree with the last index {}", last);
    _terms = std::move(runs);
    _last = last;
    _size = size_bytes;
}

task<status> segment::reserve(uint64_t end, uint64_t step) {
    if (end <= _reserved_to) co_return status{};
    uint64_t from = std::max(_reserved_to, _size);
    uint64_t target = std::max(end, from + step);
    // KEEP_SIZE: the reserved tail is not part of the file, so recovery never sees it as entries.
    auto s = co_await _file.allocate(from, target - from, FALLOC_FL_KEEP_SIZE);
    if (!s) co_return s;
    _reserved_to = target;
    co_return status{};
}

task<status> segment::cut_back() {
    _reserved_to = 0;
    co_return co_await _file.truncate(_size);
}

task<status> segment::close() {
    if (!_file.is_open()) co_return status{};
    co_return co_await _file.close();
}

}  // namespace wharf
