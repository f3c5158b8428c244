"""Read-only guard: check a query's text before anything evaluates it.

:func:`check_query` lexes the query (it does not parse it) and refuses, with the line and
column, what the endpoint must never evaluate (issues 4 and 9):

- text longer than ``max_length``; nesting of ``{ ( [ <<`` deeper than ``max_depth``; runs of
  more than :data:`MAX_UNARY_RUN` unary operators (``! ^ - +``). pyoxigraph 0.5.13's parser
  recurses without a bound and kills the process with a segmentation fault at about 2,500 nested
  groups, 4,700 nested parentheses or 9,400 ``!`` (8 MB stack);
- more than ``max_patterns`` triple patterns, path steps and group operators (separators
  ``. ; ,`` and path operators ``/ |`` outside expressions, two per item of a collection
  ``( ... )``, and OPTIONAL UNION MINUS FILTER BIND GRAPH EXISTS), or more than
  :data:`MAX_OPERATORS` operators in expressions. A hostile-input search (issue 9;
  tests/test_policy.py) found no crash left below 64 KB once the nesting is bounded, but small
  queries that keep an evaluator busy for the whole time limit while pyoxigraph plans them, the
  time growing with the cube of their size or faster, on any data: 400 triple patterns (11 KB)
  5.7 s, a 400-step path sequence (19 KB) 6.5 s, 200 OPTIONALs (7 KB) more than 8 s, a
  collection of 200 items (0.5 KB) 5.7 s, 3,000 FILTERs (56 KB) 7.3 s, a flat sum of 30,000
  terms (60 KB) more than 20 s. The deadline stops them (503); refused here they cost nothing
  (400). The limit, 128, is 8 times what the largest stored query has (15 patterns, 3
  groups). Queries expensive for what they ask (``?s (<p>)* ?o`` over every node, 30
  characters) are the deadline's;
- ``SERVICE`` anywhere: **pyoxigraph 0.5.13 does federated queries over HTTP.** Measured with a
  listener on 127.0.0.1: ``SERVICE <http://127.0.0.1:PORT/sparql> {...}`` made it send
  ``POST /sparql`` (``user-agent: Oxigraph/0.5.13``, the sub-query as body), ``SERVICE SILENT``
  did the same and hid the failure, and ``Store.update("LOAD <http://...>")`` sent a ``GET``.
  ``FROM <http://...>`` made no request (a FROM names a graph of the store, nothing is fetched);
- any SPARQL Update (``INSERT DELETE LOAD CLEAR DROP CREATE ADD MOVE COPY WITH``): 403
  (:class:`~bolyst.errors.UpdateRejected`), as Oxigraph's read-only server answers;
- ``FROM`` / ``FROM NAMED`` naming a graph that is not in the dataset.

It also finds the query form, so the HTTP side can negotiate the answer's format before the
query runs.

The lexer follows the SPARQL 1.1 grammar's terminals (strings with long strings, IRIs, comments
that end at CR or LF, prefixed names, variables, case-insensitive keywords), so a keyword inside
a string, an IRI, a comment or a name (``"SERVICE"``, ``<http://x/service>``, ``ex:service``,
``# SERVICE``) is not a keyword. One terminal depends on context: ``<`` starts an IRI, except
right after an operand inside an expression, where it is "less than" (``FILTER(?a<'x>')``). The
lexer tracks which parentheses hold expressions to decide as the parser does; were it to
disagree, a string could hide a ``SERVICE`` from it. The evaluator processes also run without
network access where the kernel allows it (see :mod:`bolyst.store.evaluator`). Unlike the
SPARQL 1.1 text, Oxigraph does not expand ``\\u`` escapes outside strings and IRIs (measured:
``SERVIC\\u0045`` is a syntax error), and neither does this lexer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple
from urllib.parse import urljoin

from bolyst.errors import QueryRejected, QuerySyntaxError, UpdateRejected

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_MAX_PATTERNS",
    "MAX_OPERATORS",
    "MAX_UNARY_RUN",
    "QueryInfo",
    "Token",
    "check_query",
    "tokenize",
]

Form = Literal["SELECT", "ASK", "CONSTRUCT", "DESCRIBE"]
FORMS: frozenset[str] = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"})
UPDATE_KEYWORDS = frozenset(
    {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}
)
DEFAULT_MAX_LENGTH = 65536
DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_PATTERNS = 128
# Binary operators in expressions: a flat sum of 8,000 terms took 1.5 s, 30,000 more than 20 s.
MAX_OPERATORS = 2000
_PATTERN_PUNCT = frozenset({".", ";", ",", "/", "|"})
_PATTERN_WORDS = frozenset({"OPTIONAL", "UNION", "MINUS", "FILTER", "BIND", "GRAPH", "EXISTS"})
_OPERATORS = frozenset({"+", "-", "*", "/", "&&", "||", "=", "!=", "<", ">", "<=", ">="})
_TERMS = frozenset({"VAR", "IRI", "PNAME", "BNODE", "STRING", "NUMBER"})
# pyoxigraph crashed at ~9,400 `!`; nobody writes more than a few in a row.
MAX_UNARY_RUN = 16

# The SPARQL 1.1 grammar's character classes (https://www.w3.org/TR/sparql11-query/#grammar).
_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_CHARS_U = _BASE + "_"
_CHARS = _CHARS_U + r"\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_LOCAL = rf"(?:[{_CHARS_U}:0-9]|{_PLX})(?:(?:[{_CHARS}.:]|{_PLX})*(?:[{_CHARS}:]|{_PLX}))?"
_TOKEN = re.compile(
    rf"""
    (?P<string>'''(?:(?:'|'')?(?:[^'\\]|\\[\s\S]))*'''
               |\"\"\"(?:(?:"|"")?(?:[^"\\]|\\[\s\S]))*\"\"\"
               |'(?:[^'\\\n\r]|\\.)*'
               |"(?:[^"\\\n\r]|\\.)*")
    |(?P<badstring>['"])
    |(?P<var>[?$][{_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]+)
    |(?P<bnode>_:[{_CHARS_U}0-9](?:[{_CHARS}.]*[{_CHARS}])?)
    |(?P<name>[{_BASE}](?:[{_CHARS}.]*[{_CHARS}])?)(?P<local>:(?:{_LOCAL})?)?
    |(?P<pname>:(?:{_LOCAL})?)
    |(?P<langtag>@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*(?:--[a-zA-Z]+)?)
    |(?P<number>[0-9]+\.[0-9]*[eE][+-]?[0-9]+|\.?[0-9]+[eE][+-]?[0-9]+|[0-9]*\.[0-9]+|[0-9]+)
    |(?P<punct>\^\^|\|\||&&|!=|>=|>>|[{{}}()\[\],;.*+\-/!^|=>?])
    |(?P<other>[\s\S])
    """,
    re.VERBOSE,
)
_SKIP = re.compile(r"(?:[ \t\r\n]+|\#[^\r\n]*)*")
_KINDS = {
    "string": "STRING",
    "var": "VAR",
    "bnode": "BNODE",
    "pname": "PNAME",
    "langtag": "LANGTAG",
    "number": "NUMBER",
    "punct": "PUNCT",
    "other": "OTHER",
}
_IRIREF = re.compile(r'<(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>')
_UCHAR = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_LOCAL_ESCAPE = re.compile(r"\\(.)")

# Tokens after which, inside an expression, `<` is "less than": they end an operand.
_OPERAND_ENDS = frozenset({"VAR", "NUMBER", "STRING", "LANGTAG", "IRI", "PNAME", "BNODE"})
# Clause keywords after which parentheses hold expressions (SELECT (... AS ?x), GROUP BY (...)).
_EXPRESSION_CLAUSES = frozenset({"SELECT", "GROUP", "ORDER", "HAVING"})
_OTHER_CLAUSES = frozenset({"WHERE", "LIMIT", "OFFSET", "VALUES", "FROM"})
_OPENERS = {"{": "{", "[": "[", "(": "(", "<<": "<<"}
_CLOSERS = {"}": "{", "]": "[", ")": "(", ">>": "<<"}
_UNARY = frozenset({"!", "^", "^^", "-", "+"})


class Token(NamedTuple):
    """A terminal of the query: ``kind`` is one of IRI, PNAME, VAR, BNODE, STRING, NUMBER,
    WORD (keywords, function names, ``a``, ``true``), LANGTAG, PUNCT, OTHER."""

    kind: str
    text: str
    start: int


@dataclass(frozen=True)
class QueryInfo:
    """What the policy found out about an accepted query.

    Attributes:
        form: SELECT, ASK, CONSTRUCT or DESCRIBE.
        from_graphs: the graphs of its ``FROM`` clauses (absolute IRIs).
        from_named_graphs: the graphs of its ``FROM NAMED`` clauses.
    """

    form: Form
    from_graphs: tuple[str, ...] = ()
    from_named_graphs: tuple[str, ...] = ()

    @property
    def has_dataset(self) -> bool:
        """Whether the query names its own dataset (FROM or FROM NAMED)."""
        return bool(self.from_graphs or self.from_named_graphs)


def where(text: str, offset: int) -> tuple[int, int]:
    """Turn a character offset into a 1-based (line, column).

    >>> where("SELECT *\\nWHERE {}", 9)
    (2, 1)
    """
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _at(text: str, offset: int) -> str:
    line, column = where(text, offset)
    return f"line {line}, column {column}"


@dataclass
class _Frame:
    kind: str  # "top", "{", "[", "(", "(expr", "<<"
    clause: bool = False  # inside SELECT/GROUP BY/ORDER BY/HAVING of this level


def tokenize(text: str, *, max_depth: int | None = None) -> Iterator[Token]:
    """Split ``text`` into SPARQL terminals, skipping white space and comments.

    Args:
        text: the query.
        max_depth: refuse nesting of ``{ ( [ <<`` deeper than this (``None``: no limit).

    Raises:
        QuerySyntaxError: a string is not closed.
        QueryRejected: the nesting is deeper than ``max_depth``.

    >>> [t.text for t in tokenize("SELECT ?s { ?s ex:service '# SERVICE' } # SERVICE")]
    ['SELECT', '?s', '{', '?s', 'ex:service', "'# SERVICE'", '}']
    >>> [t.kind for t in tokenize("FILTER(?a<'b>') <x>")]
    ['WORD', 'PUNCT', 'VAR', 'PUNCT', 'STRING', 'PUNCT', 'IRI']
    """
    for token, _ in _tokens(text, max_depth):
        yield token


def _tokens(text: str, max_depth: int | None) -> Iterator[tuple[Token, str]]:
    """The tokens, each with the kind of bracket it stands in ("top", "{", "[", "(", "(expr",
    "<<"; for a bracket, the one around it)."""
    stack = [_Frame("top")]
    previous: list[Token] = []  # the last two tokens
    position, end = 0, len(text)
    skip = _SKIP.match
    while True:
        position = skip(text, position).end()  # type: ignore[union-attr]
        if position >= end:
            return
        frame = stack[-1]
        token = _next_token(text, position, frame, previous)
        position += len(token.text)
        _track_nesting(text, token, stack, previous, max_depth)
        previous = [*previous[-1:], token]
        yield token, frame.kind


def _next_token(text: str, position: int, frame: _Frame, previous: list[Token]) -> Token:
    if text[position] == "<":
        after_operand = frame.kind == "(expr" and bool(previous) and _ends_operand(previous[-1])
        if not after_operand:
            iri = _IRIREF.match(text, position)
            if iri:
                return Token("IRI", iri.group(), position)
            if text.startswith("<<", position):
                return Token("PUNCT", "<<", position)
        if text.startswith("<=", position):
            return Token("PUNCT", "<=", position)
        return Token("PUNCT", "<", position)
    match = _TOKEN.match(text, position)
    assert match is not None  # the last alternative matches any character
    group = match.lastgroup
    value = match.group()
    if group == "badstring":
        line, column = where(text, position)
        raise QuerySyntaxError(
            f"line {line}, column {column}: the string is not closed", line=line, column=column
        )
    if group == "name" or group == "local":
        return Token("PNAME" if match.group("local") else "WORD", value, position)
    return Token(_KINDS[group or "other"], value, position)


def _ends_operand(token: Token) -> bool:
    if token.kind in _OPERAND_ENDS:
        return True
    if token.kind == "WORD":
        return token.text.lower() in ("true", "false")
    return token.kind == "PUNCT" and token.text == ")"


def _track_nesting(
    text: str, token: Token, stack: list[_Frame], previous: list[Token], max_depth: int | None
) -> None:
    """Keep the stack of open brackets, and which parentheses hold expressions."""
    frame = stack[-1]
    if token.kind == "WORD":
        word = token.text.upper()
        if word in _EXPRESSION_CLAUSES:
            frame.clause = True
        elif word in _OTHER_CLAUSES:
            frame.clause = False
        return
    if token.kind != "PUNCT":
        return
    if token.text in _OPENERS:
        kind = token.text
        if kind == "(" and _opens_expression(frame, previous):
            kind = "(expr"
        if kind == "{":
            frame.clause = False
        stack.append(_Frame(kind))
        if max_depth is not None and len(stack) - 1 > max_depth:
            line, column = where(text, token.start)
            raise QueryRejected(
                f"line {line}, column {column}: the query nests {{ ( [ deeper than "
                f"{max_depth} levels",
                line=line,
                column=column,
            )
    elif token.text in _CLOSERS and len(stack) > 1:
        if token.text != ">>" or stack[-1].kind == "<<":
            stack.pop()


def _opens_expression(frame: _Frame, previous: list[Token]) -> bool:
    """Whether a ``(`` opens an expression (not a collection, path group or VALUES row)."""
    if frame.kind == "(expr" or frame.clause:
        return True
    if frame.kind not in ("{", "top") or not previous:
        return False
    last = previous[-1]
    if last.kind == "WORD" and last.text.upper() in ("FILTER", "BIND"):
        return True
    # FILTER regex(...), FILTER ex:fn(...), FILTER <fn>(...)
    before = previous[0] if len(previous) == 2 else None
    return (
        last.kind in ("WORD", "PNAME", "IRI")
        and before is not None
        and before.kind == "WORD"
        and before.text.upper() == "FILTER"
    )


def check_query(
    text: str,
    *,
    max_length: int = DEFAULT_MAX_LENGTH,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_patterns: int = DEFAULT_MAX_PATTERNS,
    known_graphs: Collection[str],
    base_iri: str | None = None,
) -> QueryInfo:
    """Refuse what must not be evaluated; say which form the query has.

    Args:
        text: the query text.
        max_length: the most characters a query may have.
        max_depth: the deepest nesting of ``{ ( [ <<``.
        max_patterns: the most triple patterns, path steps and group operators.
        known_graphs: the named graphs of the dataset, the only ones FROM may name.
        base_iri: the base IRI relative IRIs are resolved against before a BASE declaration.

    Returns:
        The query's form and its FROM / FROM NAMED graphs.

    Raises:
        QueryRejected: too long, too deep or too big, SERVICE, or a FROM outside the dataset
            (400).
        UpdateRejected: a SPARQL Update (403).
        QuerySyntaxError: an unclosed string, or no query form (400).

    >>> check_query("PREFIX ex: <http://x/> SELECT * { ?s ex:service 'SERVICE' }", known_graphs=())
    QueryInfo(form='SELECT', from_graphs=(), from_named_graphs=())
    >>> check_query("ASK FROM <http://x/g> {}", known_graphs={"http://x/g"}).from_graphs
    ('http://x/g',)
    >>> check_query("SELECT * { SERVICE <http://x/> {} }", known_graphs=())
    Traceback (most recent call last):
    ...
    bolyst.errors.QueryRejected: line 1, column 12: SERVICE (federated query) is not allowed here
    """
    if len(text) > max_length:
        raise QueryRejected(
            f"the query has {len(text):,} characters; at most {max_length:,} are allowed"
        )
    return _check(text, max_depth, max_patterns, frozenset(known_graphs), base_iri)


# The endpoint checks a query once in the view and once in the engine, and stored queries come
# back again and again: remember the verdicts on accepted queries (refusals are not cached).
@functools.lru_cache(maxsize=512)
def _check(
    text: str, max_depth: int, max_patterns: int, known_graphs: frozenset[str], base_iri: str | None
) -> QueryInfo:
    tokens: list[Token] = []
    unary_run = patterns = operators = 0
    # Collections `( ... )` in a triple are two triple patterns per item; VALUES rows are
    # parenthesized too, and cheap: follow VALUES blocks (0: none, 1: its variables, 2: rows).
    values, values_depth = 0, 0
    for token, frame in _tokens(text, max_depth):
        in_expression = frame == "(expr"
        if token.kind == "WORD" and token.text.upper() == "VALUES":
            values, values_depth = 1, 0
        elif values and token.kind == "PUNCT" and token.text in ("{", "}"):
            values_depth += 1 if token.text == "{" else -1
            values = 2 if values_depth > 0 else 0
        elif frame == "(" and not values and token.kind in _TERMS:
            patterns += 2
        if token.kind == "PUNCT" and token.text in _PATTERN_PUNCT and not in_expression:
            patterns += 1
        elif token.kind == "WORD" and token.text.upper() in _PATTERN_WORDS:
            patterns += 1
        elif token.kind == "PUNCT" and in_expression and token.text in _OPERATORS:
            operators += 1
            if operators > MAX_OPERATORS:
                _reject(text, token, f"more than {MAX_OPERATORS:,} operators in expressions")
        if patterns > max_patterns:
            _reject(
                text,
                token,
                f"more than {max_patterns} triple patterns, path steps and OPTIONAL, UNION, "
                "MINUS, FILTER, BIND, GRAPH or EXISTS: split the query",
            )
        if token.kind == "PUNCT" and token.text in _UNARY:
            unary_run += len(token.text)  # `^^` counts as two `^`
            if unary_run > MAX_UNARY_RUN:
                _reject(text, token, f"more than {MAX_UNARY_RUN} operators in a row")
        else:
            unary_run = 0
        if token.kind == "WORD":
            word = token.text.upper() if token.text.isascii() else ""
            if word == "SERVICE":
                _reject(text, token, "SERVICE (federated query) is not allowed here")
            if word in UPDATE_KEYWORDS:
                line, column = where(text, token.start)
                raise UpdateRejected(
                    f"line {line}, column {column}: this endpoint is read-only; "
                    f"SPARQL Update ({word}) is not accepted",
                    line=line,
                    column=column,
                )
        tokens.append(token)
    form = _form(text, tokens)
    from_graphs, from_named = _dataset(text, tokens, known_graphs, base_iri)
    return QueryInfo(form, from_graphs, from_named)


def _reject(text: str, token: Token, reason: str) -> None:
    line, column = where(text, token.start)
    raise QueryRejected(f"line {line}, column {column}: {reason}", line=line, column=column)


def _form(text: str, tokens: list[Token]) -> Form:
    """The first keyword after the prologue (BASE, PREFIX, VERSION declarations)."""
    index = 0
    while index < len(tokens) and tokens[index].kind == "WORD":
        word = tokens[index].text.upper()
        if word in ("BASE", "VERSION"):
            index += 2
        elif word == "PREFIX":
            index += 3
        else:
            break
    if index < len(tokens) and tokens[index].kind == "WORD":
        word = tokens[index].text.upper()
        if word in FORMS:
            return word  # type: ignore[return-value]
    offset = tokens[index].start if index < len(tokens) else len(text)
    line, column = where(text, offset)
    raise QuerySyntaxError(
        f"line {line}, column {column}: expected SELECT, ASK, CONSTRUCT or DESCRIBE",
        line=line,
        column=column,
    )


def _dataset(
    text: str, tokens: list[Token], known_graphs: Collection[str], base: str | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Resolve the FROM / FROM NAMED IRIs and refuse those that name no graph of the dataset."""
    prefixes: dict[str, str] = {}
    graphs: dict[bool, list[str]] = {False: [], True: []}
    for index, token in enumerate(tokens):
        if token.kind != "WORD":
            continue
        word = token.text.upper()
        following = tokens[index + 1 : index + 4]
        if word == "BASE" and following and following[0].kind == "IRI":
            base = _resolve(_iri_text(following[0].text), base)
        elif word == "PREFIX" and len(following) >= 2 and following[1].kind == "IRI":
            prefixes[following[0].text[:-1]] = _resolve(_iri_text(following[1].text), base)
        elif word == "FROM":
            named = bool(following) and following[0].kind == "WORD"
            named = named and following[0].text.upper() == "NAMED"
            target = following[1] if named and len(following) > 1 else None
            target = target if named else (following[0] if following else None)
            if target is None or target.kind not in ("IRI", "PNAME"):
                continue  # not a dataset clause; the parser reports it
            iri = _term_iri(target, base, prefixes)
            if iri is None or iri not in known_graphs:
                clause = "FROM NAMED" if named else "FROM"
                shown = iri if iri is not None else target.text
                _reject(text, target, f"{clause} <{shown}> is not a graph of this dataset")
            assert iri is not None
            graphs[named].append(iri)
    return tuple(graphs[False]), tuple(graphs[True])


def _iri_text(iriref: str) -> str:
    return _UCHAR.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), iriref[1:-1])


def _resolve(iri: str, base: str | None) -> str:
    return urljoin(base, iri) if base else iri


def _term_iri(token: Token, base: str | None, prefixes: dict[str, str]) -> str | None:
    if token.kind == "IRI":
        return _resolve(_iri_text(token.text), base)
    prefix, _, local = token.text.partition(":")
    if prefix not in prefixes:
        return None
    return prefixes[prefix] + _LOCAL_ESCAPE.sub(r"\1", local)
