"""The SPARQL the pages run, kept as ``.rq`` files in ``pages/sparql/`` (not in Python strings).

The header lines (``#+ title:`` ...) are those of the stored queries in ``queries/``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

FOLDER = Path(__file__).with_name("sparql")
_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)


@cache
def text(name: str) -> str:
    """The text of ``pages/sparql/<name>.rq``.

    >>> "SELECT ?thing ?property ?label" in text("labels")
    True
    """
    return (FOLDER / f"{name}.rq").read_text(encoding="utf-8")


def with_values(query: str, values: dict[str, str]) -> str:
    """Write ``values`` (variable name -> SPARQL term, already serialized) into ``query`` as a
    ``VALUES`` block at the start of its ``WHERE`` clause, so that the query can be pasted into
    the query UI and gives the same answer as our bound run.

    The engine binds parameters as substitutions instead (never by editing the text); this copy
    is only for people to read and run.

    >>> with_values("SELECT ?x WHERE { ?x ?p ?o }", {"p": "<http://example.org/p>"})
    'SELECT ?x WHERE { VALUES ?p { <http://example.org/p> }\\n ?x ?p ?o }'
    >>> print(with_values("SELECT * { ?s ?p ?o }", {"s": "<urn:a>", "o": '"b"'}))
    SELECT * { ?s ?p ?o }
    VALUES (?s ?o) { (<urn:a> "b") }
    """
    if not values:
        return query
    names = list(values)
    if len(names) == 1:
        block = f"VALUES ?{names[0]} {{ {values[names[0]]} }}"
    else:
        block = (
            "VALUES ("
            + " ".join(f"?{n}" for n in names)
            + ") { ("
            + " ".join(values[n] for n in names)
            + ") }"
        )
    match = _WHERE.search(query)
    if match is None:
        return query.rstrip() + "\n" + block
    return query[: match.end()] + " " + block + "\n" + query[match.end() :]
