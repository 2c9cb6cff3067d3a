#!/usr/bin/env python3
"""Generates Wharf's Kafka message codec from net/kafka/schemas/*.schema.

Usage: codegen.py OUT_DIR SCHEMA...

Writes OUT_DIR/messages.h, OUT_DIR/messages.cc and OUT_DIR/messages_testing.h (a test-only
helper that fills every field of a message). The schema format is described in net/README.md.
Output is deterministic: APIs are sorted by key, fields keep their schema order.
Standard library only.
"""

import os
import sys

from kafka_schema import MAX_VERSION, SCALARS, SchemaError, intersect, parse_schema, snake

# ---------------------------------------------------------------------------------------------
# C++ emission helpers


class Ctx:
    """What the emitters need to know about the message being generated."""

    def __init__(self, msg):
        self.msg = msg
        self.api = msg.api
        self.range = msg.api.versions
        self.flex = msg.api.flexible


def in_range_cond(ctx, r):
    """C++ condition for `version` in r, given version is within the API's range."""
    if r is None:
        return "false"
    r = intersect(r, ctx.range)
    if r is None:
        return "false"
    lo, hi = ctx.range
    parts = []
    if r[0] > lo:
        parts.append(f"version >= {r[0]}")
    if r[1] < hi:
        parts.append(f"version <= {r[1]}")
    return " && ".join(parts) if parts else "true"


def field_present(ctx, f):
    return intersect(f.versions, ctx.range) is not None


def nullable_ever(ctx, f):
    return intersect(intersect(f.nullable, f.versions), ctx.range) is not None


def elem_cpp(f):
    if f.is_struct:
        return f.struct.qualified
    if f.base in SCALARS:
        return SCALARS[f.base]
    if f.base == "string":
        return "std::string"
    return "iobuf"


def field_cpp(ctx, f):
    if f.base == "records":
        return "std::optional<iobuf>"
    t = elem_cpp(f)
    if f.is_array:
        t = f"std::vector<{t}>"
    if nullable_ever(ctx, f):
        t = f"std::optional<{t}>"
    return t


INT_LIMITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}


def default_init(ctx, f):
    """The member initializer ('' when value-initialization is the default)."""
    d = f.default
    if f.base == "records":
        return ""
    if nullable_ever(ctx, f):
        if d == "null":
            return ""
        if f.is_array or f.is_struct or d is None or d == '""':
            return "{std::in_place}"
        return " = " + cpp_string(d)
    if d is None or d == "null":
        if f.base in SCALARS and not f.is_array and not f.is_struct and f.base != "uuid":
            return " = 0" if f.base not in ("bool", "float64") else \
                (" = false" if f.base == "bool" else " = 0.0")
        return ""
    if f.is_array or f.is_struct:
        raise SchemaError(f"{f.where}: arrays and structs only take default=null")
    if f.base == "bool":
        if d not in ("true", "false"):
            raise SchemaError(f"{f.where}: bad bool default '{d}'")
        return " = " + d
    if f.base in INT_LIMITS or f.base == "uint16":
        v = int(d, 0)
        bits = INT_LIMITS.get(f.base, 16)
        lo, hi = (0, 65535) if f.base == "uint16" else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
        if not lo <= v <= hi:
            raise SchemaError(f"{f.where}: default {d} out of range")
        if v == lo and f.base != "uint16":
            return f" = std::numeric_limits<{SCALARS[f.base]}>::min()"
        return f" = {d}"
    if f.base == "float64":
        return f" = {float(d)!r}"
    if f.base == "string":
        return "" if d == '""' else " = " + cpp_string(d)
    raise SchemaError(f"{f.where}: type {f.base} takes no default")


def cpp_string(d):
    if d.startswith('"'):
        return d
    return '"' + d.replace("\\", "\\\\").replace('"', '\\"') + '"'


def default_expr(ctx, f):
    """A C++ expression equal to the field's default value (for tagged-field elision)."""
    init = default_init(ctx, f)
    t = field_cpp(ctx, f)
    if init == "":
        return f"{t}()"
    if init.startswith("{"):
        return f"{t}{init}"
    return f"{t}({init[3:]})"


# ---------------------------------------------------------------------------------------------
# decode / encode bodies


def decode_elem(ctx, f, target, out, ind):
    """Reads one element (not an array) of f's type into target."""
    p = " " * ind
    if f.is_struct:
        out.append(f"{p}{target}.decode(r, version);")
    elif f.base in SCALARS:
        out.append(f"{p}{target} = r.read_{f.base}();")
    elif f.base == "string":
        out.append(f"{p}{target} = r.read_string(flexible);")
    else:
        out.append(f"{p}{target} = r.read_bytes(flexible);")


def decode_value(ctx, f, target, out, ind):
    """Reads the field's value (array, nullable or not) into target."""
    p = " " * ind
    nul = in_range_cond(ctx, intersect(f.nullable, f.versions)) if f.nullable else "false"
    opt = nullable_ever(ctx, f)
    if f.base == "records":
        out.append(f"{p}{target} = r.read_nullable_bytes({nul}, flexible);")
        return
    if f.is_array:
        out.append(f"{p}{{")
        out.append(f"{p}    const int32_t n = r.read_array_len({nul}, flexible);")
        if opt:
            out.append(f"{p}    if (n < 0) {{")
            out.append(f"{p}        {target}.reset();")
            out.append(f"{p}    }} else {{")
            out.append(f"{p}        auto& vec = {target}.emplace();")
        else:
            out.append(f"{p}    {{")
            out.append(f"{p}        auto& vec = {target};")
            out.append(f"{p}        vec.clear();")
        out.append(f"{p}        vec.reserve(std::min<size_t>(static_cast<size_t>(n), "
                   "reserve_cap));")
        out.append(f"{p}        for (int32_t i = 0; i < n && r.ok(); ++i) {{")
        decode_elem(ctx, f, "vec.emplace_back()", out, ind + 12)
        out.append(f"{p}        }}")
        out.append(f"{p}    }}")
        out.append(f"{p}}}")
        return
    if f.is_struct and opt:
        out.append(f"{p}if (!({nul}) || r.read_int8() >= 0) {{")
        out.append(f"{p}    {target}.emplace().decode(r, version);")
        out.append(f"{p}}} else {{")
        out.append(f"{p}    {target}.reset();")
        out.append(f"{p}}}")
        return
    if opt:
        kind = "string" if f.base == "string" else "bytes"
        out.append(f"{p}{target} = r.read_nullable_{kind}({nul}, flexible);")
        return
    decode_elem(ctx, f, target, out, ind)


def encode_elem(ctx, f, expr, out, ind):
    p = " " * ind
    if f.is_struct:
        out.append(f"{p}{expr}.encode(w, version);")
    elif f.base in SCALARS:
        out.append(f"{p}w.write_{f.base}({expr});")
    elif f.base == "string":
        out.append(f"{p}w.write_string({expr}, flexible);")
    else:
        out.append(f"{p}w.write_bytes({expr}, flexible);")


def encode_value(ctx, f, expr, out, ind):
    p = " " * ind
    nul = in_range_cond(ctx, intersect(f.nullable, f.versions)) if f.nullable else "false"
    opt = nullable_ever(ctx, f)
    if f.base == "records":
        out.append(f"{p}w.write_nullable_records({expr}, {nul}, flexible);")
        return
    if f.is_array:
        if opt:
            out.append(f"{p}if (!{expr}.has_value()) {{")
            out.append(f"{p}    w.write_null_array({nul}, flexible);")
            out.append(f"{p}}} else {{")
            vec, ind2 = f"(*{expr})", ind + 4
        else:
            out.append(f"{p}{{")
            vec, ind2 = expr, ind + 4
        q = " " * ind2
        out.append(f"{q}w.write_array_len({vec}.size(), flexible);")
        out.append(f"{q}for (const auto& e : {vec}) {{")
        encode_elem(ctx, f, "e", out, ind2 + 4)
        out.append(f"{q}}}")
        out.append(f"{p}}}")
        return
    if f.is_struct and opt:
        out.append(f"{p}if ({nul}) {{")
        out.append(f"{p}    w.write_int8({expr}.has_value() ? 1 : -1);")
        out.append(f"{p}}}")
        out.append(f"{p}if ({expr}.has_value()) {{")
        out.append(f"{p}    {expr}->encode(w, version);")
        out.append(f"{p}}} else if (!({nul})) {{")
        out.append(f"{p}    {f.struct.qualified}().encode(w, version);")
        out.append(f"{p}}}")
        return
    if opt:
        kind = "string" if f.base == "string" else "bytes"
        out.append(f"{p}w.write_nullable_{kind}({expr}, {nul}, flexible);")
        return
    encode_elem(ctx, f, expr, out, ind)


def tagged_cond(ctx, f):
    return in_range_cond(ctx, intersect(intersect(f.tagged, f.versions),
                                        (ctx.flex if ctx.flex is not None else MAX_VERSION + 1,
                                         MAX_VERSION)))


def untagged_cond(ctx, f):
    """Condition under which f is written in the fixed part of the struct."""
    present = in_range_cond(ctx, f.versions)
    if f.tag is None:
        return present
    eff = intersect(f.versions, ctx.range)
    flex = (ctx.flex, MAX_VERSION) if ctx.flex is not None else None
    tagged = intersect(intersect(f.tagged, eff), flex)
    if tagged is None:
        return present
    if tagged == eff:
        return "false"
    return f"({present}) && !({tagged_cond(ctx, f)})"


def emit_decode(ctx, s, out):
    out.append(f"bool {s.qualified}::decode([[maybe_unused]] protocol_reader& r, "
               "int16_t version) {")
    out.append(f"    [[maybe_unused]] const bool flexible = version >= {ctx.api.flexible_from};")
    for f in s.fields:
        if not field_present(ctx, f):
            continue
        cond = untagged_cond(ctx, f)
        if cond == "false":
            continue
        if cond == "true":
            decode_value(ctx, f, f.snake, out, 4)
        else:
            out.append(f"    if ({cond}) {{")
            decode_value(ctx, f, f.snake, out, 8)
            out.append("    }")
    if ctx.flex is not None:
        tagged = [f for f in s.fields if f.tag is not None and tagged_cond(ctx, f) != "false"]
        out.append("    if (flexible) {")
        out.append("        const uint32_t count = r.read_tag_count();")
        out.append("        for (uint32_t i = 0; i < count && r.ok(); ++i) {")
        out.append("            const auto t = r.begin_tagged_field();")
        if tagged:
            out.append("            switch (t.tag) {")
            for f in sorted(tagged, key=lambda f: f.tag):
                out.append(f"            case {f.tag}:")
                out.append(f"                if ({tagged_cond(ctx, f)}) {{")
                decode_value(ctx, f, f.snake, out, 20)
                out.append("                    r.end_tagged_field(t);")
                out.append("                    continue;")
                out.append("                }")
                out.append("                break;")
            out.append("            default:")
            out.append("                break;")
            out.append("            }")
        out.append("            r.read_unknown_tagged_field(t, unknown_tagged_fields);")
        out.append("        }")
        out.append("    }")
    out.append("    return r.ok();")
    out.append("}")
    out.append("")


def emit_encode(ctx, s, out):
    out.append(f"void {s.qualified}::encode([[maybe_unused]] protocol_writer& w, "
               "[[maybe_unused]] int16_t version) const {")
    out.append(f"    [[maybe_unused]] const bool flexible = version >= {ctx.api.flexible_from};")
    for f in s.fields:
        if not field_present(ctx, f):
            continue
        cond = untagged_cond(ctx, f)
        if cond == "false":
            continue
        if cond == "true":
            encode_value(ctx, f, f.snake, out, 4)
        else:
            out.append(f"    if ({cond}) {{")
            encode_value(ctx, f, f.snake, out, 8)
            out.append("    }")
    if ctx.flex is not None:
        tagged = sorted((f for f in s.fields if f.tag is not None and
                         tagged_cond(ctx, f) != "false"), key=lambda f: f.tag)
        out.append("    if (flexible) {")
        for f in tagged:
            out.append(f"        const bool has_{f.snake} = ({tagged_cond(ctx, f)}) && "
                       f"!({f.snake} == {default_expr(ctx, f)});")
        count = " + ".join(["unknown_tagged_fields.size()"] +
                           [f"(has_{f.snake} ? 1u : 0u)" for f in tagged])
        out.append(f"        w.write_uvarint(static_cast<uint32_t>({count}));")
        out.append("        size_t next_unknown = 0;")
        for f in tagged:
            out.append(f"        next_unknown = w.write_unknown_tagged_fields("
                       f"unknown_tagged_fields, next_unknown, {f.tag});")
            out.append(f"        if (has_{f.snake}) {{")
            out.append("            protocol_writer tw;")
            out.append("            {")
            out.append("                auto& w_outer = w;")
            out.append("                auto& w = tw;")
            encode_value(ctx, f, f.snake, out, 16)
            out.append("                w_outer.write_tagged_field"
                       f"({f.tag}, std::move(w.buffer()));")
            out.append("            }")
            out.append("        }")
        out.append("        w.write_unknown_tagged_fields(unknown_tagged_fields, next_unknown, "
                   "UINT32_MAX);")
        out.append("    }")
    out.append("}")
    out.append("")


def emit_struct_decl(ctx, s, out, ind, top):
    p = " " * ind
    out.append(f"{p}struct {s.snake} {{")
    if top:
        api = ctx.api
        out.append(f"{p}    static constexpr api_key key = api_key::{api.snake};")
        out.append(f"{p}    static constexpr int16_t min_version = {api.versions[0]};")
        out.append(f"{p}    static constexpr int16_t max_version = {api.versions[1]};")
        out.append(f"{p}    // First flexible version; INT16_MAX when no version is flexible.")
        out.append(f"{p}    static constexpr int16_t flexible_from = {api.flexible_from};")
        out.append("")
        for ns in s.structs:
            emit_struct_decl(ctx, ns, out, ind + 4, False)
            out.append("")
    for f in s.fields:
        if not field_present(ctx, f):
            continue
        out.append(f"{p}    {field_cpp(ctx, f)} {f.snake}{default_init(ctx, f)};")
    if ctx.flex is not None:
        out.append(f"{p}    std::vector<tagged_field> unknown_tagged_fields;")
    out.append("")
    out.append(f"{p}    // Reads the fields of `version`; false (and r.ok() false) on malformed input.")
    out.append(f"{p}    bool decode(protocol_reader& r, int16_t version);")
    out.append(f"{p}    void encode(protocol_writer& w, int16_t version) const;")
    out.append(f"{p}    bool operator==(const {s.snake}&) const = default;")
    out.append(f"{p}}};")


# ---------------------------------------------------------------------------------------------
# test filler

FILLER = """\
// Hands out distinct values, none equal to a schema default (defaults are -1, 0, small
// constants or INT32_MAX/INT32_MIN), so that a filled field never looks absent.
struct filler {
    uint32_t n = 0;

    uint32_t step() { return ++n; }
    int8_t next_int8() { return static_cast<int8_t>(10 + step() % 100); }
    int16_t next_int16() { return static_cast<int16_t>(1000 + step() % 30000); }
    int32_t next_int32() { return static_cast<int32_t>(100000 + step()); }
    int64_t next_int64() { return (int64_t{1} << 40) + step(); }
    uint16_t next_uint16() { return static_cast<uint16_t>(1000 + step() % 60000); }
    double next_float64() { return step() + 0.25; }
    bool next_bool() { return step() != 0; }
    kafka::uuid next_uuid() {
        kafka::uuid u;
        const uint32_t v = step();
        for (size_t i = 0; i < u.bytes.size(); ++i) {
            u.bytes[i] = static_cast<uint8_t>(v + i * 7);
        }
        return u;
    }
    std::string next_string() { return "s" + std::to_string(step()); }
    iobuf next_bytes() {
        const std::string s = "bytes-" + std::to_string(step());
        return iobuf::copy_of(s.data(), s.size());
    }
    // An unknown tagged field, numbered above every known tag so that it sorts last.
    tagged_field next_unknown_tag() {
        const std::string s = "t" + std::to_string(step());
        return tagged_field{.tag = 1000 + n, .data = std::vector<uint8_t>(s.begin(), s.end())};
    }
};
"""


def emit_fill(ctx, s, out):
    out.append(f"inline void fill([[maybe_unused]] {s.qualified}& m, "
               "[[maybe_unused]] int16_t version, [[maybe_unused]] filler& f, "
               "[[maybe_unused]] bool all) {")
    out.append("    [[maybe_unused]] const bool flexible = version >= "
               f"{ctx.api.flexible_from};")
    for fl in s.fields:
        if not field_present(ctx, fl):
            continue
        if fl.tag is not None and tagged_cond(ctx, fl) != "false":
            cond = f"({untagged_cond(ctx, fl)}) || ({tagged_cond(ctx, fl)})"
        else:
            cond = untagged_cond(ctx, fl)
        t = field_cpp(ctx, fl)
        out.append("    {")
        if fl.is_array:
            et = elem_cpp(fl)
            out.append(f"        std::vector<{et}> v(2);")
            out.append("        for (auto& e : v) {")
            out.append(f"            {fill_elem(fl, 'e')}")
            out.append("        }")
        elif fl.base == "records":
            out.append("        iobuf v = f.next_bytes();")
        else:
            out.append(f"        {elem_cpp(fl)} v{{}};")
            out.append(f"        {fill_elem(fl, 'v')}")
        out.append(f"        if (all || ({cond})) {{")
        out.append(f"            m.{fl.snake} = {t}(std::move(v));")
        out.append("        }")
        out.append("    }")
    if ctx.flex is not None:
        out.append("    if (flexible) {")
        out.append("        m.unknown_tagged_fields.push_back(f.next_unknown_tag());")
        out.append("    }")
    out.append("}")
    out.append("")


def fill_elem(f, target):
    if f.base == "bool" and not f.is_array:
        return f"{target} = !{'true' if f.default == 'true' else 'false'};"
    if f.is_struct:
        return f"fill({target}, version, f, all);"
    if f.base == "string":
        return f"{target} = f.next_string();"
    if f.base == "bytes":
        return f"{target} = f.next_bytes();"
    return f"{target} = f.next_{f.base}();"


# ---------------------------------------------------------------------------------------------
# files


HEADER_PRELUDE = """\
#pragma once

// Generated by net/kafka/codegen.py from net/kafka/schemas/*.schema. Do not edit.

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "net/kafka/protocol.h"
#include "reactor/iobuf.h"

namespace wharf::kafka {
"""


def gen_header(apis):
    out = [HEADER_PRELUDE]
    out.append("enum class api_key : int16_t {")
    for a in apis:
        out.append(f"    {a.snake} = {a.key},")
    out.append("};")
    out.append("")
    out.append("// One supported API: its key, Kafka's name and the versions the codec implements.")
    out.append("// flexible_from is INT16_MAX for an API with no flexible version.")
    out.append("struct api_descriptor {")
    out.append("    api_key key;")
    out.append("    const char* name;")
    out.append("    int16_t min_version;")
    out.append("    int16_t max_version;")
    out.append("    int16_t flexible_from;")
    out.append("};")
    out.append("")
    out.append("// Every API of the codec, sorted by key.")
    out.append("std::span<const api_descriptor> all_apis();")
    out.append("// The API with this key, or nullptr when the codec does not implement it.")
    out.append("const api_descriptor* find_api(int16_t key);")
    out.append("")
    for a in apis:
        for m in (a.request, a.response):
            ctx = Ctx(m)
            emit_struct_decl(ctx, m, out, 0, True)
            out.append("")
    for kind in ("request", "response"):
        out.append(f"// Calls fn(std::type_identity<T>{{}}) with the {kind} type of `key` and returns")
        out.append("// true; false for a key the codec does not implement.")
        out.append("template <typename Fn>")
        out.append(f"bool visit_{kind}(api_key key, Fn&& fn) {{")
        out.append("    switch (key) {")
        for a in apis:
            out.append(f"    case api_key::{a.snake}:")
            out.append(f"        fn(std::type_identity<{a.snake}_{kind}>{{}});")
            out.append("        return true;")
        out.append("    }")
        out.append("    return false;")
        out.append("}")
        out.append("")
    out.append("}  // namespace wharf::kafka")
    return "\n".join(out) + "\n"


def gen_source(apis):
    out = ["// Generated by net/kafka/codegen.py from net/kafka/schemas/*.schema. Do not edit.",
           "",
           '#include "net/kafka/messages.h"',
           "",
           "#include <algorithm>",
           "#include <array>",
           "",
           "namespace wharf::kafka {",
           "",
           "namespace {",
           "// Arrays reserve at most this many elements up front; the rest grow as decoded, so",
           "// that a declared count costs memory only as its elements actually arrive.",
           "constexpr size_t reserve_cap = 64;",
           "",
           f"constexpr std::array<api_descriptor, {len(apis)}> apis = {{{{"]
    for a in apis:
        out.append(f'    {{api_key::{a.snake}, "{a.name}", {a.versions[0]}, {a.versions[1]}, '
                   f"{a.flexible_from}}},")
    out += ["}};", "}  // namespace", "",
            "std::span<const api_descriptor> all_apis() { return apis; }", "",
            "const api_descriptor* find_api(int16_t key) {",
            "    for (const auto& a : apis) {",
            "        if (static_cast<int16_t>(a.key) == key) {",
            "            return &a;",
            "        }",
            "    }",
            "    return nullptr;",
            "}", ""]
    for a in apis:
        for m in (a.request, a.response):
            ctx = Ctx(m)
            for s in m.structs + [m]:
                emit_decode(ctx, s, out)
                emit_encode(ctx, s, out)
    out.append("}  // namespace wharf::kafka")
    return "\n".join(out) + "\n"


def gen_testing(apis):
    out = ["#pragma once", "",
           "// Generated by net/kafka/codegen.py. Test helper, never linked into the broker:",
           "// fill() gives every field present at a version a distinct non-default value.",
           "",
           '#include "net/kafka/messages.h"',
           "",
           "namespace wharf::kafka::testing {", "", FILLER]
    # Declarations first: nested fill() calls refer to each other.
    for a in apis:
        for m in (a.request, a.response):
            for s in m.structs + [m]:
                out.append(f"inline void fill({s.qualified}& m, int16_t version, filler& f, "
                           "bool all);")
    out.append("")
    for a in apis:
        for m in (a.request, a.response):
            ctx = Ctx(m)
            for s in m.structs + [m]:
                emit_fill(ctx, s, out)
    out.append("// Calls fn(std::type_identity<T>{}) for every request and response type.")
    out.append("template <typename Fn>")
    out.append("void for_each_message(Fn&& fn) {")
    for a in apis:
        for m in (a.request, a.response):
            out.append(f"    fn(std::type_identity<{m.snake}>{{}});")
    out.append("}")
    out.append("")
    out.append("}  // namespace wharf::kafka::testing")
    return "\n".join(out) + "\n"


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = argv[1]
    try:
        apis = sorted((parse_schema(p) for p in argv[2:]), key=lambda a: a.key)
        keys = [a.key for a in apis]
        if len(set(keys)) != len(keys):
            raise SchemaError("two schemas share an API key")
        files = {"messages.h": gen_header(apis), "messages.cc": gen_source(apis),
                 "messages_testing.h": gen_testing(apis)}
    except SchemaError as e:
        print(f"codegen: {e}", file=sys.stderr)
        return 1
    os.makedirs(out_dir, exist_ok=True)
    for name, text in files.items():
        write_if_changed(os.path.join(out_dir, name), text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
