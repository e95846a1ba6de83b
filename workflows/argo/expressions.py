"""A safe evaluator for the expression forms Argo manifests use, never Python's ``eval``.

Covers ``when`` (govaluate after ``{{...}}`` substitution: ``'promote' == 'promote'``,
``5 > 3``, bare words as strings), ``depends`` (``a.Succeeded && (b || c.Failed)``) and retry
``expression`` (expr-lang: ``asInt(lastRetry.exitCode) != 65 && lastRetry.status == 'Error'``).
Supported: literals (numbers, quoted strings, true/false/nil), names with dots and hyphens,
``== != < <= > >=``, ``&& || !`` and ``and or not``, ``in [..]``, ``matches``, govaluate's ``=~ !~``,
``c ? a : b``, parentheses, the functions ``asInt asFloat string int float len lower upper toJson`` and the
common Sprig ones as ``sprig.<name>`` (see ``SPRIG``). Anything else is an error. Values keep their
types, as in Argo: ``'2' == 2`` is false, ``'2' > 1`` and ``'x' && true`` are errors, ``asInt('2.5')`` too.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TOKEN = re.compile(
    r"""\s*(?:
    (?P<number>\d+(?:\.\d+)?)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<op>=~|!~|==|!=|<=|>=|&&|\|\||[<>!()\[\],?:])
  | (?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)
  )""",
    re.VERBOSE,
)
KEYWORDS = {"and": "&&", "or": "||", "not": "!"}


def _as_int(value: Any) -> int:
    """expr-lang's ``int`` (Argo's ``asInt``): text must be a whole number (``strconv.Atoi``), a number truncates."""
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value):
        return int(value)
    if _is_number(value):
        return int(value)
    raise ValueError(f"invalid operation: int({value})")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "asInt": _as_int,
    "asFloat": float,
    "int": _as_int,
    "float": float,
    "string": str,
    "len": len,
    "lower": lambda v: str(v).lower(),
    "upper": lambda v: str(v).upper(),
}


def _go_text(value: Any) -> str:
    """Go's ``fmt.Sprint`` of a value, as Sprig's ``strval``/``toString`` writes it."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(_go_text(v) for v in value) + "]"
    return str(value)


def _to_int(value: Any) -> int:
    """Sprig's ``toInt``/``toInt64`` (spf13/cast): numbers truncate, text parses (base prefixes too), else 0."""
    if isinstance(value, bool):
        return int(value)
    if _is_number(value):
        return int(value)
    if isinstance(value, str):
        try:  # cast's trimZeroDecimal, then strconv.ParseInt(s, 0, 0)
            return int(re.sub(r"^([+-]?\d+)\.0+$", r"\1", value), 0)
        except ValueError:
            return 0
    return 0
    return 0


def _to_float(value: Any) -> float:
    """Sprig's ``toFloat64`` (spf13/cast): numbers convert, text parses, else 0."""
    if isinstance(value, bool | int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return 0.0


def _empty(value: Any) -> bool:
    """Sprig's ``empty``: nil, false, zero, and empty text, lists and maps are empty."""
    return value is None or (
        not value if isinstance(value, bool | int | float | str | list | dict) else False
    )


def _strings(value: Any) -> list[str]:
    """Sprig's ``strslice``: a list's items as text (nils dropped), or the one value."""
    if isinstance(value, list):
        return [_go_text(v) for v in value if v is not None]
    return [] if value is None else [_go_text(value)]


def _b64dec(text: str) -> str:
    try:
        return base64.b64decode(str(text), validate=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:  # Sprig returns the error's text
        return str(exc)


def _from_json(text: str) -> Any:
    try:  # Go's json.Unmarshal into interface{}: every number a float64
        return json.loads(str(text), parse_int=float)
    except ValueError:
        return None  # Sprig's fromJson drops the error


def _to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _div(a: Any, b: Any) -> int:
    a, b = _to_int(a), _to_int(b)
    if b == 0:
        raise ValueError("integer divide by zero")
    return abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)  # Go truncates toward zero


# Sprig's functions as Argo's expression tags expose them, under ``sprig.`` (util/expr/env/env.go GetFuncMap:
# ``env["sprig"] = sprig.GenericFuncMap()`` less env/expandenv; docs/variables.md: ``sprig.trim(...)``).
# The common text, list, number and encoding ones, with Sprig's argument order (the subject last).
SPRIG: dict[str, Callable[..., Any]] = {
    "trim": lambda s: _go_text(s).strip(),
    "trimAll": lambda cut, s: _go_text(s).strip(_go_text(cut)),
    "trimPrefix": lambda prefix, s: _go_text(s).removeprefix(_go_text(prefix)),
    "trimSuffix": lambda suffix, s: _go_text(s).removesuffix(_go_text(suffix)),
    "upper": lambda s: _go_text(s).upper(),
    "lower": lambda s: _go_text(s).lower(),
    "title": lambda s: re.sub(r"(?<!\S)\S", lambda m: m.group().upper(), _go_text(s)),
    "replace": lambda old, new, s: _go_text(s).replace(_go_text(old), _go_text(new)),
    "contains": lambda sub, s: _go_text(sub) in _go_text(s),
    "hasPrefix": lambda prefix, s: _go_text(s).startswith(_go_text(prefix)),
    "hasSuffix": lambda suffix, s: _go_text(s).endswith(_go_text(suffix)),
    "repeat": lambda count, s: _go_text(s) * _to_int(count),
    "substr": lambda start, end, s: _go_text(s)[_to_int(start) : _to_int(end)],
    "nospace": lambda s: re.sub(r"\s", "", _go_text(s)),
    "quote": lambda *v: " ".join(json.dumps(_go_text(x)) for x in v if x is not None),
    "squote": lambda *v: " ".join(f"'{_go_text(x)}'" for x in v if x is not None),
    "toString": _go_text,
    "atoi": lambda s: int(s) if re.fullmatch(r"[+-]?[0-9]+", str(s)) else 0,
    "int": _to_int,
    "int64": _to_int,
    "float64": _to_float,
    "add": lambda *v: sum(_to_int(x) for x in v),
    "add1": lambda v: _to_int(v) + 1,
    "sub": lambda a, b: _to_int(a) - _to_int(b),
    "mul": lambda a, *v: _to_int(a) * math.prod(_to_int(x) for x in v),
    "div": _div,
    "mod": lambda a, b: _to_int(a) - _div(a, b) * _to_int(b),
    "max": lambda a, *v: max(_to_int(x) for x in (a, *v)),
    "min": lambda a, *v: min(_to_int(x) for x in (a, *v)),
    "default": lambda d, *given: d if not given or _empty(given[0]) else given[0],
    "empty": _empty,
    "coalesce": lambda *v: next((x for x in v if not _empty(x)), None),
    "ternary": lambda yes, no, condition: yes if condition is True else no,
    "list": lambda *v: list(v),
    "join": lambda sep, v: _go_text(sep).join(_strings(v)),
    "splitList": lambda sep, s: _go_text(s).split(_go_text(sep)),
    "first": lambda v: v[0] if v else None,
    "last": lambda v: v[-1] if v else None,
    "rest": lambda v: list(v[1:]),
    "initial": lambda v: list(v[:-1]),
    "has": lambda needle, v: any(_equal(needle, x) for x in v or []),
    "uniq": lambda v: [x for i, x in enumerate(v) if not any(_equal(x, y) for y in v[:i])],
    "regexMatch": lambda pattern, s: re.search(_go_text(pattern), _go_text(s)) is not None,
    "regexFind": lambda pattern, s: m.group() if (m := re.search(_go_text(pattern), _go_text(s))) else "",
    "b64enc": lambda s: base64.b64encode(_go_text(s).encode()).decode(),
    "b64dec": _b64dec,
    "toJson": _to_json,
    "fromJson": _from_json,
}
FUNCTIONS.update({f"sprig.{name}": function for name, function in SPRIG.items()})
FUNCTIONS["toJson"] = _to_json  # env.go GetFuncMap: env["toJson"] = toJSON


# govaluate's comparators, =~ and !~ among them, share one precedence (govaluate's evaluationStage.go
# regexStage: the left a string, the right a pattern, Go's regexp MatchString, i.e. a search).
BINARY_POWER = {
    "||": 1,
    "&&": 2,
    "==": 3,
    "!=": 3,
    "=~": 3,
    "!~": 3,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "in": 4,
    "matches": 4,
}


class ExpressionError(ValueError):
    """The expression is malformed or uses something this evaluator does not support."""


@dataclass
class Token:
    kind: str
    text: str


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ExpressionError(f"unexpected {text[position:].strip()[:20]!r} in expression {text!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "name" and value in KEYWORDS:
            kind, value = "op", KEYWORDS[value]
        elif kind == "name" and value in ("in", "matches"):
            kind = "op"
        tokens.append(Token(kind, value))
        position = match.end()
    return tokens


class Parser:
    """Pratt parser producing nested tuples; evaluation happens afterwards, on the tree."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, text: str | None = None) -> Token:
        token = self.peek()
        if token is None or (text is not None and token.text != text):
            raise ExpressionError(f"expected {text or 'more'} in expression {self.text!r}")
        self.index += 1
        return token

    def parse(self) -> tuple:
        if not self.tokens:
            raise ExpressionError("empty expression")
        tree = self.expression(0)
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek().text!r} in expression {self.text!r}")
        return tree

    def expression(self, min_power: int) -> tuple:
        left = self.unary()
        while (
            (token := self.peek()) is not None
            and token.kind == "op"
            and BINARY_POWER.get(token.text, 0) > min_power
        ):
            self.take()
            right = self.expression(BINARY_POWER[token.text])
            left = ("binary", token.text, left, right)
        if min_power == 0 and (token := self.peek()) is not None and token.text == "?":
            self.take("?")
            then = self.expression(0)
            self.take(":")
            return ("ternary", left, then, self.expression(0))
        return left

    def unary(self) -> tuple:
        token = self.take()
        if token.kind == "op" and token.text == "!":
            return ("not", self.unary())
        if token.kind == "op" and token.text == "(":
            inner = self.expression(0)
            self.take(")")
            return inner
        if token.kind == "op" and token.text == "[":
            items = []
            while self.peek() is not None and self.peek().text != "]":
                items.append(self.expression(0))
                if self.peek() is not None and self.peek().text == ",":
                    self.take(",")
            self.take("]")
            return ("list", items)
        if token.kind == "number":
            return ("literal", float(token.text) if "." in token.text else int(token.text))
        if token.kind == "string":
            return ("literal", token.text[1:-1])
        if token.kind == "name":
            if token.text in ("true", "false"):
                return ("literal", token.text == "true")
            if token.text == "nil":
                return ("literal", None)
            if self.peek() is not None and self.peek().text == "(":
                return self.call(token.text)
            return ("name", token.text)
        raise ExpressionError(f"unexpected {token.text!r} in expression {self.text!r}")

    def call(self, name: str) -> tuple:
        if name not in FUNCTIONS:
            raise ExpressionError(f"unsupported function {name}() in expression {self.text!r}")
        self.take("(")
        arguments = []
        while self.peek() is not None and self.peek().text != ")":
            arguments.append(self.expression(0))
            if self.peek() is not None and self.peek().text == ",":
                self.take(",")
        self.take(")")
        return ("call", name, arguments)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(left: Any, right: Any) -> bool:
    """As Argo's evaluators compare (govaluate's ``reflect.DeepEqual``, expr-lang's ``runtime.Equal``): numbers
    by value, anything else only against its own type; no conversion, so the text ``'2'`` is not the number 2."""
    if _is_number(left) and _is_number(right):
        return left == right
    return type(left) is type(right) and left == right


def _binary(op: str, left: Any, right: Any) -> Any:
    if op == "in":
        if not isinstance(right, list):
            raise ExpressionError(f"operator in needs a list on its right, not {right!r}")
        return any(_equal(left, item) for item in right)
    if op in ("=~", "!~"):
        # govaluate (evaluationStage.go regexStage/notRegexStage): a string matched against a pattern (Go RE2;
        # Python's re agrees on the usual patterns); anything else is a type error, as its comparator check.
        if not (isinstance(left, str) and isinstance(right, str)):
            raise ExpressionError(f"cannot use {left!r} {op} {right!r}: both sides must be strings")
        try:
            found = re.search(right, left) is not None
        except re.error as exc:
            raise ExpressionError(f"Unable to compile regexp pattern '{right}': {exc}") from None
        return found == (op == "=~")
    if op == "matches":
        return re.search(str(right), str(left)) is not None
    if op in ("==", "!="):
        return _equal(left, right) == (op == "==")
    # Ordering is between two numbers or two strings (lexicographic), never between the two.
    numbers = _is_number(left) and _is_number(right)
    if not (numbers or (isinstance(left, str) and isinstance(right, str))):
        raise ExpressionError(f"cannot compare {left!r} {op} {right!r}")
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def evaluate(text: str, resolve: Callable[[str], Any], bare_words_are_strings: bool = False) -> Any:
    """Evaluate ``text``; ``resolve`` maps a name to its value (raise KeyError when unknown)."""
    tree = Parser(text).parse()

    def boolean(value: Any, op: str) -> bool:
        # Both of Argo's evaluators take only true or false here (govaluate's logical type check, expr-lang's VM).
        if not isinstance(value, bool):
            raise ExpressionError(f"{op} needs true or false, not {value!r}, in expression {text!r}")
        return value

    def walk(node: tuple) -> Any:
        kind = node[0]
        if kind == "literal":
            return node[1]
        if kind == "list":
            return [walk(item) for item in node[1]]
        if kind == "name":
            try:
                return resolve(node[1])
            except KeyError:
                if bare_words_are_strings:
                    return node[1]
                raise ExpressionError(f"unknown name {node[1]!r} in expression {text!r}") from None
        if kind == "not":
            return not boolean(walk(node[1]), "!")
        if kind == "ternary":
            return walk(node[2]) if boolean(walk(node[1]), "?") else walk(node[3])
        if kind == "call":
            try:
                return FUNCTIONS[node[1]](*(walk(a) for a in node[2]))
            except (TypeError, ValueError, OverflowError) as exc:
                raise ExpressionError(f"{node[1]}() failed in expression {text!r}: {exc}") from None
        op = node[1]
        if op == "&&":
            return boolean(walk(node[2]), op) and boolean(walk(node[3]), op)
        if op == "||":
            return boolean(walk(node[2]), op) or boolean(walk(node[3]), op)
        return _binary(op, walk(node[2]), walk(node[3]))

    return walk(tree)


def names_in(text: str) -> list[str]:
    """Every name an expression refers to (for lint and dependency discovery)."""
    return [
        token.text
        for token in tokenize(text)
        if token.kind == "name" and token.text not in ("true", "false", "nil") and token.text not in FUNCTIONS
    ]
