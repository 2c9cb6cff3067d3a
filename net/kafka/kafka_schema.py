"""The schema model of Wharf's Kafka codec: parsing net/kafka/schemas/*.schema (the format is
described in net/README.md) into APIs, messages, structs and fields with their version ranges,
and resolving what each field is at each version. Used by codegen.py. Standard library only.
"""

import re

MAX_VERSION = 32767
SCALARS = {
    "int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t",
    "uint16": "uint16_t", "float64": "double", "bool": "bool", "uuid": "uuid",
}
VARIABLE = {"string", "bytes", "records"}
PRIMITIVES = set(SCALARS) | VARIABLE
# Names the generated structs use for themselves; a field may not take them.
RESERVED = {"decode", "encode", "unknown_tagged_fields"}
TOP_LEVEL_RESERVED = {"key", "min_version", "max_version", "flexible_from"}
CPP_KEYWORDS = {"default", "delete", "new", "class", "operator", "template", "this", "private",
                "public", "protected", "register", "union", "switch", "case", "do", "for",
                "while", "if", "else", "return", "int", "long", "short", "char", "bool",
                "auto", "const", "static", "virtual", "namespace", "using", "typename",
                "struct", "enum", "break", "continue", "goto", "friend", "export", "signed",
                "unsigned", "volatile", "explicit", "inline", "mutable", "try", "catch",
                "throw", "true", "false", "void", "float", "double", "sizeof", "typedef"}


class SchemaError(Exception):
    pass


def snake(name):
    """CamelCase to snake_case; a run of capitals is one word (ZkMigration -> zk_migration)."""
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return s.lower()


def parse_range(text, where):
    """'3+', '0-7', '5' or 'none' -> (lo, hi) or None."""
    m = re.fullmatch(r"(\d+)\+|(\d+)-(\d+)|(\d+)|none", text)
    if not m:
        raise SchemaError(f"{where}: bad version range '{text}'")
    if text == "none":
        return None
    if m.group(1):
        return (int(m.group(1)), MAX_VERSION)
    if m.group(2):
        lo, hi = int(m.group(2)), int(m.group(3))
        if lo > hi:
            raise SchemaError(f"{where}: empty version range '{text}'")
        return (lo, hi)
    return (int(m.group(4)), int(m.group(4)))


def intersect(a, b):
    if a is None or b is None:
        return None
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo <= hi else None


class Field:
    def __init__(self, name, type_text, attrs, where):
        self.name = name
        self.snake = snake(name)
        self.where = where
        self.is_array = type_text.startswith("[]")
        base = type_text[2:] if self.is_array else type_text
        self.always_nullable = base.endswith("?")
        self.base = base.rstrip("?")
        self.is_struct = self.base not in PRIMITIVES
        if self.is_struct and not re.fullmatch(r"[A-Z][A-Za-z0-9]*", self.base):
            raise SchemaError(f"{where}: unknown type '{self.base}'")
        self.versions = (0, MAX_VERSION)
        self.nullable = None
        self.default = None
        self.tag = None
        self.tagged = None
        self.fields = []  # children when this field defines its struct inline
        self.struct = None  # the Struct once resolved
        for a in attrs:
            if re.fullmatch(r"v\S+", a):
                self.versions = parse_range(a[1:], where)
            elif a.startswith("null="):
                self.nullable = parse_range(a[5:], where)
            elif a.startswith("default="):
                self.default = a[8:]
            elif a.startswith("tag="):
                self.tag = int(a[4:])
            elif a.startswith("tagged="):
                self.tagged = parse_range(a[7:], where)
            elif a.startswith("cpp="):
                # The C++ member name, where the snake_case of the Kafka name is taken.
                self.snake = a[4:]
            else:
                raise SchemaError(f"{where}: unknown attribute '{a}'")
        if self.always_nullable:
            if self.nullable is not None:
                raise SchemaError(f"{where}: both '?' and null=")
            self.nullable = self.versions
        if self.nullable is not None:
            if not (self.is_array or self.is_struct or self.base in VARIABLE):
                raise SchemaError(f"{where}: a {self.base} cannot be nullable")
        if self.base == "records":
            if self.is_array:
                raise SchemaError(f"{where}: arrays of records are not supported")
        if self.snake in RESERVED or self.snake in CPP_KEYWORDS:
            raise SchemaError(f"{where}: field name '{self.snake}' is reserved")
        if self.tag is not None and self.tagged is None:
            self.tagged = self.versions
        if self.tagged is not None and self.tag is None:
            raise SchemaError(f"{where}: tagged= without tag=")


class Struct:
    def __init__(self, name, fields, owner):
        self.name = name
        self.snake = snake(name)
        self.fields = fields
        self.owner = owner  # the top-level Message

    @property
    def qualified(self):
        if self is self.owner:
            return self.snake
        return f"{self.owner.snake}::{self.snake}"


class Message(Struct):
    def __init__(self, api, kind, fields, commons):
        super().__init__(api.name + kind.capitalize(), fields, None)
        self.owner = self
        self.api = api
        self.kind = kind
        self.commons = commons
        self.structs = []  # nested structs in declaration order (dependencies first)


class Api:
    def __init__(self, name, key, versions, flexible, path):
        self.name = name
        self.snake = snake(name)
        self.key = key
        self.versions = versions
        self.flexible = flexible  # first flexible version, or None
        self.path = path
        self.request = None
        self.response = None

    @property
    def flexible_from(self):
        return self.flexible if self.flexible is not None else MAX_VERSION


def parse_field_lines(lines, start, indent, path):
    """Parses fields at exactly `indent` spaces from lines[start]; returns (fields, next)."""
    fields = []
    i = start
    while i < len(lines):
        lineno, ind, text = lines[i]
        if ind < indent:
            break
        where = f"{path}:{lineno}"
        if ind != indent:
            raise SchemaError(f"{where}: unexpected indentation")
        parts = text.split()
        if len(parts) < 2:
            raise SchemaError(f"{where}: a field needs a name and a type")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", parts[0]):
            raise SchemaError(f"{where}: bad field name '{parts[0]}'")
        f = Field(parts[0], parts[1], parts[2:], where)
        i += 1
        if i < len(lines) and lines[i][1] > indent:
            if not f.is_struct:
                raise SchemaError(f"{where}: only struct fields have children")
            f.fields, i = parse_field_lines(lines, i, lines[i][1], path)
        fields.append(f)
    return fields, i


def parse_schema(path):
    lines = []
    with open(path, encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            text = raw.split("#", 1)[0].rstrip()
            if text.strip():
                if "\t" in text:
                    raise SchemaError(f"{path}:{n}: tabs are not allowed")
                lines.append((n, len(text) - len(text.lstrip(" ")), text.strip()))
    if not lines or not lines[0][2].startswith("api "):
        raise SchemaError(f"{path}: the first line must be 'api ...'")
    head = lines[0][2].split()
    attrs = dict(a.split("=", 1) for a in head[2:])
    where = f"{path}:{lines[0][0]}"
    try:
        versions = parse_range(attrs["versions"], where)
        flex = parse_range(attrs["flexible"], where)
        api = Api(head[1], int(attrs["key"]), versions, flex[0] if flex else None, path)
    except KeyError as e:
        raise SchemaError(f"{where}: missing {e}") from None
    i = 1
    while i < len(lines):
        lineno, ind, text = lines[i]
        kind = text.split()[0]
        if ind != 0 or kind not in ("request", "response"):
            raise SchemaError(f"{path}:{lineno}: expected 'request' or 'response'")
        fields, i = parse_field_lines(lines, i + 1, 2, path) if i + 1 < len(lines) and \
            lines[i + 1][1] > 0 else ([], i + 1)
        commons = {}
        while i < len(lines) and lines[i][1] == 0 and lines[i][2].startswith("common "):
            cname = lines[i][2].split()[1]
            cfields, i = parse_field_lines(lines, i + 1, 2, path)
            commons[cname] = cfields
        msg = Message(api, kind, fields, commons)
        if getattr(api, kind) is not None:
            raise SchemaError(f"{path}:{lineno}: second '{kind}'")
        setattr(api, kind, msg)
    if api.request is None or api.response is None:
        raise SchemaError(f"{path}: needs a request and a response")
    for msg in (api.request, api.response):
        resolve(msg)
    return api


def resolve(msg):
    """Links struct fields to Struct objects and orders msg.structs dependencies first."""
    by_name = {}
    commons = {}

    def visit(fields, stack):
        seen_names, seen_tags = set(), set()
        for f in fields:
            if f.snake in seen_names:
                raise SchemaError(f"{f.where}: duplicate field '{f.name}'")
            seen_names.add(f.snake)
            if f.tag is not None:
                if f.tag in seen_tags:
                    raise SchemaError(f"{f.where}: duplicate tag {f.tag}")
                seen_tags.add(f.tag)
            if not f.is_struct:
                continue
            if f.fields:
                if f.base in by_name or f.base in msg.commons:
                    raise SchemaError(f"{f.where}: struct '{f.base}' defined twice")
                if f.base in stack:
                    raise SchemaError(f"{f.where}: recursive struct '{f.base}'")
                visit(f.fields, stack | {f.base})
                s = Struct(f.base, f.fields, msg)
                by_name[f.base] = s
                msg.structs.append(s)
                f.struct = s
            elif f.base in msg.commons:
                if f.base not in commons:
                    visit(msg.commons[f.base], stack | {f.base})
                    s = Struct(f.base, msg.commons[f.base], msg)
                    commons[f.base] = s
                    msg.structs.append(s)
                f.struct = commons[f.base]
            else:
                raise SchemaError(f"{f.where}: struct '{f.base}' has no fields")

    for f in msg.fields:
        if f.snake in TOP_LEVEL_RESERVED:
            raise SchemaError(f"{f.where}: C++ name {f.snake} is reserved at the top level (use cpp=)")
    visit(msg.fields, {msg.name})
    names = {s.snake for s in msg.structs}
    if len(names) != len(msg.structs) or msg.snake in names:
        raise SchemaError(f"{msg.api.path}: nested struct names collide in {msg.name}")
