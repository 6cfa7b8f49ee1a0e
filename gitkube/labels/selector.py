"""Label selectors: one implementation for the CLI `-l`, controllers, Services and the store.

This module implements the semantics of apimachinery's `pkg/labels` (see K8S-SEMANTICS.md
sections 1.2–1.4):

* `parse(s)` – the `-l` / `--selector` string grammar (`labels.Parse`):

      selector    ::= requirement | requirement "," selector
      requirement ::= [!] KEY [ set-based | exact-match | ordering ]
      set-based   ::= "" | ("in" | "notin") "(" values ")"
      values      ::= VALUE? | VALUE? "," values          (empty items mean "")
      exact-match ::= ("=" | "==" | "!=") VALUE?          (a missing VALUE means "")
      ordering    ::= (">" | "<") INT64

* `from_label_selector(d)` – a metav1.LabelSelector dict (`matchLabels` + `matchExpressions`),
  `LabelSelectorAsSelector`: None → `Selector.nothing()`, `{}` → `Selector.everything()`.
* `from_map(m)` – a Service / ReplicationController `selector:` map (equality only).
* `parse_labels_map(s)` – `ConvertSelectorToLabelsMap`: only `k=v,k2=v2` (for `gitkube label`).

A `Selector` is immutable and hashable. `Selector.matches(labels)` is compiled lazily on first
use into a single straight-line function, so parse once and match many times.

Invalid input always raises `SelectorError` with a one-line message; an invalid selector is never
turned into "matches nothing" or "matches everything".

Deliberate choices (tested in tests/unit/test_selector.py):

* `(a,,)` parses as {"", "a"} as K8S-SEMANTICS.md 1.2 states. (apimachinery's list parser
  rejects the one shape "two commas right before ')'"; every other list shape agrees.)
* Syntax is checked for the whole string before keys and values are validated, so
  `x=a||y=b` reports the stray `=` rather than the invalid value `a||y`.
* A NUL character is an ordinary identifier character (so it fails key/value validation);
  upstream's byte lexer treats it as end-of-input and may silently drop the rest of the string.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from gitkube.errors import SelectorError
from gitkube.labels.validation import label_key, label_value

__all__ = [
    "OPERATORS",
    "Requirement",
    "Selector",
    "from_label_selector",
    "from_map",
    "parse",
    "parse_labels_map",
]

# --------------------------------------------------------------------------------------------
# Operators
# --------------------------------------------------------------------------------------------

EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
IN = "in"
NOT_IN = "notin"
EXISTS = "exists"
DOES_NOT_EXIST = "!"
GREATER_THAN = ">"
LESS_THAN = "<"

#: Every operator a `Requirement` may carry, in the order error messages list them.
OPERATORS: tuple[str, ...] = (
    IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN, EXISTS, DOES_NOT_EXIST,
)
_BINARY_OPERATORS = "in, notin, =, ==, !=, >, <"

#: metav1.LabelSelectorOperator → Requirement operator (case-sensitive, exactly these four).
_STRUCTURED_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_INT_RE = re.compile(r"[+-]?[0-9]+")  # strconv.ParseInt(s, 10, 64) syntax (ASCII digits only)

_EMPTY: Mapping[str, str] = MappingProxyType({})


def _parse_int64(s: object) -> int | None:
    """strconv.ParseInt(s, 10, 64), or None when it would fail (syntax or range)."""
    if not isinstance(s, str) or not _INT_RE.fullmatch(s):
        return None
    n = int(s)
    return n if _INT64_MIN <= n <= _INT64_MAX else None


def _q(s: str) -> str:
    """Go's %q, near enough: double-quoted, escapes kept on one line."""
    return json.dumps(s, ensure_ascii=False)


def _requirement_problem(key: str, op: str, values: frozenset[str]) -> str | None:
    """NewRequirement's checks; the first problem as a message, or None when valid."""
    if not isinstance(key, str):
        return f"label key must be a string, not {type(key).__name__}"
    errs = label_key(key)
    if errs:
        return f"invalid key {_q(key)}: {'; '.join(errs)}"
    if op in (IN, NOT_IN):
        if not values:
            return f"values set can't be empty for the {op!r} operator (key {_q(key)})"
    elif op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(values) != 1:
            return f"operator {op!r} needs exactly one value (key {_q(key)})"
    elif op in (EXISTS, DOES_NOT_EXIST):
        if values:
            return f"values set must be empty for exists and does not exist (key {_q(key)})"
    elif op in (GREATER_THAN, LESS_THAN):
        if len(values) != 1:
            return f"operator {op!r} needs exactly one value (key {_q(key)})"
        (v,) = values
        if _parse_int64(v) is None:
            return (f"invalid value {_q(v)} for key {_q(key)}: "
                    f"operator {op!r} needs a base-10 64-bit integer")
    else:
        return f"{_q(op)} is not a valid selector operator (valid: {', '.join(OPERATORS)})"
    for v in sorted(values):
        if not isinstance(v, str):
            return f"label value for key {_q(key)} must be a string, not {type(v).__name__}"
        errs = label_value(v)
        if errs:
            return f"invalid value {_q(v)} for key {_q(key)}: {'; '.join(errs)}"
    return None


# --------------------------------------------------------------------------------------------
# Requirement
# --------------------------------------------------------------------------------------------

def _single(values: frozenset[str]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None


def _ordering(s: object, op: str, n: int) -> bool:
    if s is None:
        return False
    x = _parse_int64(s)
    if x is None:
        return False
    return x > n if op == GREATER_THAN else x < n


@dataclass(frozen=True, repr=False)
class Requirement:
    """One `key op values` condition (labels.Requirement).

    `op` is one of `=`, `==`, `!=`, `in`, `notin`, `exists`, `!` (does not exist), `>`, `<`.
    Constructing a Requirement directly does not validate it (like a Go struct literal); a
    Requirement with an unknown operator matches nothing. Use `Requirement.new` to validate.
    """

    key: str
    op: str
    values: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        vals = self.values
        if isinstance(vals, str):
            raise TypeError("Requirement.values must be a collection of strings, not a string")
        if not isinstance(vals, frozenset):
            object.__setattr__(self, "values", frozenset(vals))

    @classmethod
    def new(cls, key: str, op: str, values: Iterable[str] = ()) -> Requirement:
        """NewRequirement: build and validate, raising SelectorError with the first problem."""
        if isinstance(values, str):
            raise TypeError("values must be a collection of strings, not a string")
        vals = frozenset(values)
        problem = _requirement_problem(key, op, vals)
        if problem:
            raise SelectorError(f"invalid label selector requirement: {problem}")
        return cls(key, op, vals)

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether `labels` satisfy this requirement (section 1.3 semantics).

        `!=`/`notin`/`!` match when the key is absent; `=`/`==`/`in`/`exists`/`>`/`<` need it.
        `>`/`<` need the label value to be a base-10 int64. `None` labels count as no labels.
        """
        fn = _requirement_predicate(self)
        object.__setattr__(self, "matches", fn)  # later calls skip this method entirely
        return fn(labels)

    def __str__(self) -> str:
        op, key = self.op, self.key
        if op == EXISTS:
            return key
        if op == DOES_NOT_EXIST:
            return "!" + key
        vals = ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            return f"{key} {op} ({vals})"
        return f"{key}{op}{vals}"

    def __repr__(self) -> str:
        vals = "{" + ", ".join(repr(v) for v in sorted(self.values)) + "}" if self.values else "frozenset()"
        return f"Requirement({self.key!r}, {self.op!r}, {vals})"

    def __reduce__(self):
        return (type(self), (self.key, self.op, self.values))


def _requirement_predicate(r: Requirement) -> Callable[[Mapping[str, str] | None], bool]:
    key, op, values = r.key, r.op, r.values
    v = _single(values)

    if op in (EQUALS, DOUBLE_EQUALS, IN):
        if v is not None:
            return lambda labels: (labels or _EMPTY).get(key) == v
        return lambda labels: (labels or _EMPTY).get(key) in values
    if op in (NOT_EQUALS, NOT_IN):
        if v is not None:
            return lambda labels: (labels or _EMPTY).get(key) != v
        return lambda labels: (labels or _EMPTY).get(key) not in values
    if op == EXISTS:
        return lambda labels: key in (labels or _EMPTY)
    if op == DOES_NOT_EXIST:
        return lambda labels: key not in (labels or _EMPTY)
    if op in (GREATER_THAN, LESS_THAN):
        n = _parse_int64(v)
        if n is not None:
            return lambda labels: _ordering((labels or _EMPTY).get(key), op, n)
    return lambda labels: False


# --------------------------------------------------------------------------------------------
# Selector
# --------------------------------------------------------------------------------------------

@lru_cache(maxsize=256)
def _compiled_module(src: str):
    return compile(src, "<gitkube-selector>", "exec")


def _compile_selector(reqs: tuple[Requirement, ...]) -> Callable[[Mapping[str, str] | None], bool]:
    """One straight-line function for the whole AND. Constants live in the function's globals
    (never in the source text), and the code object is shared by every selector of the same shape."""
    ns: dict[str, Any] = {"_EMPTY": _EMPTY, "_ordering": _ordering}
    terms: list[str] = []
    getter = "labels.get" if len(reqs) == 1 else "g"
    for i, r in enumerate(reqs):
        k, vn = f"k{i}", f"v{i}"
        ns[k] = r.key
        op, v = r.op, _single(r.values)
        if op in (EQUALS, DOUBLE_EQUALS, IN, NOT_EQUALS, NOT_IN):
            negate = op in (NOT_EQUALS, NOT_IN)
            if v is not None:
                ns[vn] = v
                terms.append(f"{getter}({k}) {'!=' if negate else '=='} {vn}")
            else:
                ns[vn] = r.values
                terms.append(f"{getter}({k}) {'not in' if negate else 'in'} {vn}")
        elif op == EXISTS:
            terms.append(f"{k} in labels")
        elif op == DOES_NOT_EXIST:
            terms.append(f"{k} not in labels")
        elif op in (GREATER_THAN, LESS_THAN) and _parse_int64(v) is not None:
            ns[vn] = _parse_int64(v)
            terms.append(f"_ordering({getter}({k}), {op!r}, {vn})")
        else:  # unknown operator or malformed Gt/Lt: the zero Requirement matches nothing
            terms.append("False")
    body = ["def _m(labels):", "    if labels is None:", "        labels = _EMPTY"]
    if getter == "g":
        body.append("    g = labels.get")
    body.append("    return " + " and ".join(terms))
    exec(_compiled_module("\n".join(body)), ns)  # noqa: S102 - fixed template, data in ns only
    return ns["_m"]


def _true(labels: Mapping[str, str] | None) -> bool:
    return True


def _false(labels: Mapping[str, str] | None) -> bool:
    return False


@dataclass(frozen=True, repr=False)
class Selector:
    """An AND of requirements, sorted by key (stable for equal keys), as labels.Selector.

    * `Selector.everything()` (also `Selector(())` and `parse("")`) matches every label set.
    * `Selector.nothing()` matches no label set; it is what a nil metav1.LabelSelector means.
      Its `str()` is "" like upstream, so it does not survive a trip through `parse`.
    """

    requirements: tuple[Requirement, ...] = ()
    match_nothing: bool = False

    def __post_init__(self) -> None:
        reqs = self.requirements
        for r in reqs:
            if not isinstance(r, Requirement):
                raise TypeError(f"Selector requirements must be Requirement objects, not {type(r).__name__}")
        if self.match_nothing:
            reqs = ()
        reqs = tuple(sorted(reqs, key=attrgetter("key")))
        object.__setattr__(self, "requirements", reqs)

    @classmethod
    def everything(cls) -> Selector:
        return _EVERYTHING

    @classmethod
    def nothing(cls) -> Selector:
        return _NOTHING

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (upstream Empty(); false for nothing())."""
        return not self.requirements and not self.match_nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether every requirement holds for `labels` (None counts as no labels)."""
        if self.match_nothing:
            fn = _false
        elif not self.requirements:
            fn = _true
        else:
            fn = _compile_selector(self.requirements)
        object.__setattr__(self, "matches", fn)  # later calls go straight to the compiled function
        return fn(labels)

    def add(self, *requirements: Requirement) -> Selector:
        """A new selector with more requirements ANDed in (nothing() stays nothing())."""
        if self.match_nothing:
            return self
        return Selector(self.requirements + tuple(requirements))

    def equality_pairs(self) -> list[tuple[str, str]]:
        """(key, value) of each `=`, `==` and single-value `in` requirement, in key order.

        Every object the selector matches carries all of these labels, so a store may narrow its
        candidates with its label index first and then call `matches` on what is left.
        Empty for `nothing()`, which matches nothing anyway."""
        out = []
        for r in self.requirements:
            if r.op in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                out.append((r.key, next(iter(r.values))))
        return out

    def requires_exact_match(self, key: str) -> str | None:
        """RequiresExactMatch: the value the first requirement on `key` pins, if it pins one."""
        for r in self.requirements:
            if r.key == key:
                if r.op in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return next(iter(r.values))
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        if self.match_nothing:
            return "Selector.nothing()"
        if not self.requirements:
            return "Selector.everything()"
        return f"Selector({str(self)!r})"

    def __reduce__(self):
        return (type(self), (self.requirements, self.match_nothing))


_EVERYTHING = Selector(())
_NOTHING = Selector((), match_nothing=True)


# --------------------------------------------------------------------------------------------
# String grammar: lexer
# --------------------------------------------------------------------------------------------

# Token kinds. Identifiers are "id"; "in"/"notin" lex as keywords and turn back into identifiers
# wherever the parser does not expect an operator.
_ID, _EOS = "id", "end"
_WHITESPACE = " \t\r\n"
_SPECIAL = "=!(),<>"
_IDENT_RE = re.compile(r"[^ \t\r\n=!(),<>]+")


def _lex(s: str) -> list[tuple[str, str, int]]:
    """(kind, literal, position) tokens, ending with an end-of-string token."""
    toks: list[tuple[str, str, int]] = []
    i, n = 0, len(s)
    while True:
        while i < n and s[i] in _WHITESPACE:
            i += 1
        if i >= n:
            toks.append((_EOS, "", n))
            return toks
        c = s[i]
        if c in _SPECIAL:
            two = s[i:i + 2]
            if two == "!=" or two == "==":  # longest match first
                toks.append((two, two, i))
                i += 2
            else:
                toks.append((c, c, i))
                i += 1
        else:
            m = _IDENT_RE.match(s, i)
            word = m.group()
            toks.append((word if word in (IN, NOT_IN) else _ID, word, i))
            i = m.end()


def _describe(kind: str, lit: str) -> str:
    if kind == _EOS:
        return "end of string"
    return f"'{lit}'" if lit.isprintable() and "'" not in lit else _q(lit)


# --------------------------------------------------------------------------------------------
# String grammar: parser
# --------------------------------------------------------------------------------------------

class _Parser:
    __slots__ = ("s", "toks", "i")

    def __init__(self, s: str):
        self.s = s
        self.toks = _lex(s)
        self.i = 0

    def error(self, msg: str, pos: int) -> SelectorError:
        err = SelectorError(f"invalid label selector {_q(self.s)}: {msg}")
        err.selector = self.s  # type: ignore[attr-defined]
        err.position = pos  # type: ignore[attr-defined]
        return err

    def unexpected(self, tok: tuple[str, str, int], expected: str) -> SelectorError:
        kind, lit, pos = tok
        return self.error(f"found {_describe(kind, lit)}, expected {expected}", pos)

    def next(self, value_context: bool = True) -> tuple[str, str, int]:
        kind, lit, pos = self.toks[self.i]
        if kind != _EOS:
            self.i += 1
        if value_context and kind in (IN, NOT_IN):
            kind = _ID
        return kind, lit, pos

    def peek(self) -> str:
        kind = self.toks[self.i][0]
        return _ID if kind in (IN, NOT_IN) else kind

    def parse(self) -> list[tuple[str, str, frozenset[str], int, int]]:
        """Syntax only: (key, op, values, key position, value position) per requirement."""
        out = []
        tok = self.toks[0]
        if tok[0] == _EOS:
            return out
        if self.peek() not in (_ID, "!"):
            raise self.unexpected(tok, "'!', identifier or end of string")
        while True:
            out.append(self.requirement())
            tok = self.next()
            if tok[0] == _EOS:
                return out
            if tok[0] != ",":
                raise self.unexpected(tok, "',' or end of string")
            if self.peek() not in (_ID, "!"):
                raise self.unexpected(self.toks[self.i], "identifier after ','")

    def requirement(self) -> tuple[str, str, frozenset[str], int, int]:
        kind, key, kpos = self.next()
        if kind == "!":
            kind, key, kpos = self.next()
            if kind != _ID:
                raise self.unexpected((kind, key, kpos), "identifier after '!'")
            return key, DOES_NOT_EXIST, frozenset(), kpos, kpos
        # kind is _ID here: parse() checked it
        if self.peek() in (",", _EOS):
            return key, EXISTS, frozenset(), kpos, kpos
        tok = self.next(value_context=False)
        op = tok[0]
        if op in (IN, NOT_IN):
            values, vpos = self.value_set(op)
        elif op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN):
            values, vpos = self.exact_value(op, tok[2])
        else:
            raise self.unexpected(tok, f"one of: {_BINARY_OPERATORS}")
        return key, op, values, kpos, vpos

    def exact_value(self, op: str, op_pos: int) -> tuple[frozenset[str], int]:
        if self.peek() in (",", _EOS):  # `x=` and `x= ` mean the empty value
            return frozenset(("",)), op_pos + len(op)
        kind, lit, pos = self.next()
        if kind != _ID:
            raise self.unexpected((kind, lit, pos), f"a value after '{op}'")
        return frozenset((lit,)), pos

    def value_set(self, op: str) -> tuple[frozenset[str], int]:
        tok = self.next()
        if tok[0] != "(":
            raise self.unexpected(tok, f"'(' after '{op}'")
        start = tok[2]
        values: set[str] = set()
        tok = self.next()
        if tok[0] == ")":  # `()` and `( )` are the single value ""
            return frozenset(("",)), start
        while True:
            if tok[0] == _ID:
                values.add(tok[1])
                tok = self.next()
                if tok[0] not in (",", ")"):
                    raise self.unexpected(tok, "',' or ')'")
            elif tok[0] in (",", ")"):
                values.add("")  # an empty item: `(,a)`, `(a,)`, `(a,,b)`, `(a,,)`
            else:
                raise self.unexpected(tok, "',', ')' or a value")
            if tok[0] == ")":
                return frozenset(values), start
            tok = self.next()  # past the ','


@lru_cache(maxsize=1024)
def _parse_cached(s: str) -> Selector:
    p = _Parser(s)
    reqs = []
    for key, op, values, kpos, vpos in p.parse():
        problem = _requirement_problem(key, op, values)
        if problem:
            raise p.error(problem, kpos if problem.startswith("invalid key") else vpos)
        reqs.append(Requirement(key, op, values))
    return Selector(tuple(reqs)) if reqs else _EVERYTHING


def parse(s: str) -> Selector:
    """labels.Parse: the `-l` selector string → Selector; raises SelectorError when invalid.

    "" (or only whitespace) is `Selector.everything()`. The error message names the offending
    token; the exception also carries `.selector` and `.position` (0-based index into `s`)."""
    if not isinstance(s, str):
        raise TypeError(f"a label selector must be a string, not {type(s).__name__}")
    return _parse_cached(s)


# --------------------------------------------------------------------------------------------
# Structured selectors and maps
# --------------------------------------------------------------------------------------------

def from_label_selector(sel: Mapping[str, Any] | None) -> Selector:
    """LabelSelectorAsSelector for a metav1.LabelSelector dict.

    None → `Selector.nothing()`; `{}` (no matchLabels and no matchExpressions) →
    `Selector.everything()`. Operators are exactly In, NotIn, Exists, DoesNotExist; In/NotIn need
    values and Exists/DoesNotExist must have none; keys and values must be valid. Workload
    validation ("empty selector is invalid for deployment") is the caller's business."""
    if sel is None:
        return _NOTHING
    if not isinstance(sel, Mapping):
        raise SelectorError(f"invalid label selector: expected a mapping with matchLabels/matchExpressions, "
                            f"got {type(sel).__name__}")
    unknown = sorted(str(k) for k in sel if k not in ("matchLabels", "matchExpressions"))
    if unknown:
        raise SelectorError(f"invalid label selector: unknown field {_q(unknown[0])} "
                            f"(expected matchLabels and/or matchExpressions)")
    match_labels = sel.get("matchLabels") or {}
    match_expressions = sel.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping):
        raise SelectorError(f"invalid label selector: matchLabels must be a mapping, "
                            f"not {type(match_labels).__name__}")
    if isinstance(match_expressions, (str, bytes, Mapping)) or not isinstance(match_expressions, Iterable):
        raise SelectorError(f"invalid label selector: matchExpressions must be a list, "
                            f"not {type(match_expressions).__name__}")
    match_expressions = list(match_expressions)
    if not match_labels and not match_expressions:
        return _EVERYTHING

    reqs: list[Requirement] = []
    for k, v in match_labels.items():
        where = f"matchLabels[{_q(str(k))}]"
        if not isinstance(k, str) or not isinstance(v, str):
            bad = k if not isinstance(k, str) else v
            raise SelectorError(f"invalid label selector: {where}: must be a string, "
                                f"not {type(bad).__name__} {bad!r}")
        problem = _requirement_problem(k, EQUALS, frozenset((v,)))
        if problem:
            raise SelectorError(f"invalid label selector: {where}: {problem}")
        reqs.append(Requirement(k, EQUALS, frozenset((v,))))

    for i, expr in enumerate(match_expressions):
        where = f"matchExpressions[{i}]"
        if not isinstance(expr, Mapping):
            raise SelectorError(f"invalid label selector: {where}: must be a mapping with key, operator "
                                f"and values, not {type(expr).__name__}")
        extra = sorted(str(k) for k in expr if k not in ("key", "operator", "values"))
        if extra:
            raise SelectorError(f"invalid label selector: {where}: unknown field {_q(extra[0])}")
        key = expr.get("key", "")
        operator = expr.get("operator", "")
        raw_values = expr.get("values") or []
        if not isinstance(key, str):
            raise SelectorError(f"invalid label selector: {where}.key: must be a string, not "
                                f"{type(key).__name__}")
        if not isinstance(operator, str):
            raise SelectorError(f"invalid label selector: {where}.operator: must be a string, not "
                                f"{type(operator).__name__}")
        if isinstance(raw_values, (str, bytes, Mapping)) or not isinstance(raw_values, Iterable):
            raise SelectorError(f"invalid label selector: {where}.values: must be a list of strings, "
                                f"not {type(raw_values).__name__}")
        raw_values = list(raw_values)
        for v in raw_values:
            if not isinstance(v, str):
                raise SelectorError(f"invalid label selector: {where}.values: must be strings, "
                                    f"not {type(v).__name__} {v!r}")
        op = _STRUCTURED_OPERATORS.get(operator)
        if op is None:
            raise SelectorError(f"invalid label selector: {where}.operator: "
                                f"{_q(operator)} is not a valid label selector operator")
        if op in (IN, NOT_IN) and not raw_values:
            raise SelectorError(f"invalid label selector: {where}.values: Required value: "
                                f"must be specified when `operator` is 'In' or 'NotIn'")
        if op in (EXISTS, DOES_NOT_EXIST) and raw_values:
            raise SelectorError(f"invalid label selector: {where}.values: Forbidden: "
                                f"may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
        values = frozenset(raw_values)
        problem = _requirement_problem(key, op, values)
        if problem:
            raise SelectorError(f"invalid label selector: {where}: {problem}")
        reqs.append(Requirement(key, op, values))
    return Selector(tuple(reqs))


def from_map(m: Mapping[str, str] | None, *, validate: bool = True) -> Selector:
    """A Service / ReplicationController `selector:` map as an equality Selector.

    None → `Selector.nothing()`; `{}` → `Selector.everything()`. Callers decide what an absent or
    empty selector means for them: a Service with no selector gets NO controller-managed
    Endpoints (it does not select every pod), so check `if not spec.get("selector")` before
    matching. With `validate` (the default) invalid keys or values raise SelectorError
    (ValidatedSelectorFromSet); without it the map is trusted (SelectorFromValidatedSet)."""
    if m is None:
        return _NOTHING
    if not isinstance(m, Mapping):
        raise SelectorError(f"invalid selector: expected a mapping of label keys to values, "
                            f"got {type(m).__name__}")
    if not m:
        return _EVERYTHING
    reqs = []
    for k, v in m.items():
        if validate:
            if not isinstance(k, str) or not isinstance(v, str):
                bad = k if not isinstance(k, str) else v
                raise SelectorError(f"invalid selector: {_q(str(k))}: must be a string, "
                                    f"not {type(bad).__name__} {bad!r}")
            problem = _requirement_problem(k, EQUALS, frozenset((v,)))
            if problem:
                raise SelectorError(f"invalid selector: {problem}")
        reqs.append(Requirement(k, EQUALS, frozenset((v,))))
    return Selector(tuple(reqs))


def parse_labels_map(s: str) -> dict[str, str]:
    """ConvertSelectorToLabelsMap: `k=v,k2=v2` → dict (for `gitkube label`, `node add --label`).

    Only plain `key=value` pairs separated by commas; whitespace around keys and values is
    trimmed; "" gives {}; a repeated key keeps the last value. Rejects `x`, `x!=y`, `x==y`,
    `x in (y)`, `x y`, a stray comma, and invalid keys or values."""
    if not isinstance(s, str):
        raise TypeError(f"labels must be a string, not {type(s).__name__}")
    out: dict[str, str] = {}
    if not s:
        return out
    for item in s.split(","):
        parts = item.split("=")
        if len(parts) != 2:
            raise SelectorError(f"invalid labels {_q(s)}: {_q(item.strip())} is not a key=value pair")
        key, value = parts[0].strip(), parts[1].strip()
        errs = label_key(key)
        if errs:
            raise SelectorError(f"invalid labels {_q(s)}: invalid key {_q(key)}: {'; '.join(errs)}")
        errs = label_value(value)
        if errs:
            raise SelectorError(f"invalid labels {_q(s)}: invalid value {_q(value)} for key {_q(key)}: "
                                f"{'; '.join(errs)}")
        out[key] = value
    return out
