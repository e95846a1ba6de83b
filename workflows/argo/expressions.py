"""A safe evaluator for the expression forms Argo manifests use, never Python's ``eval``.

Covers ``when`` (govaluate after ``{{...}}`` substitution: ``'promote' == 'promote'``,
``5 > 3``, bare words as strings), ``depends`` (``a.Succeeded && (b || c.Failed)``) and retry
``expression`` (expr-lang: ``asInt(lastRetry.exitCode) != 65 && lastRetry.status == 'Error'``).
Supported: literals (numbers, quoted strings, true/false/nil), names with dots and hyphens,
``== != < <= > >=``, ``&& || !`` and ``and or not``, ``in [..]``, ``matches``, ``c ? a : b``, parentheses and
the functions ``asInt asFloat string int float len lower upper``. Anything else is an error. Values keep their
types, as in Argo: ``'2' == 2`` is false, ``'2' > 1`` and ``'x' && true`` are errors, ``asInt('2.5')`` too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TOKEN = re.compile(
    r"""\s*(?:
    (?P<number>\d+(?:\.\d+)?)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\],?:])
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
BINARY_POWER = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4, "matches": 4}


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
