"""The query policy: what is refused before evaluation, and what is not (bolyst.policy)."""

from __future__ import annotations

import doctest
import time

import pytest

from bolyst import policy
from bolyst.errors import QueryRejected, QuerySyntaxError, UpdateRejected
from bolyst.policy import MAX_UNARY_RUN, check_query, tokenize

GRAPH = "https://w3id.org/bolyst/graph/data/alpha"
KNOWN = frozenset({GRAPH, "https://w3id.org/bolyst/graph/shapes/shapes"})


def check(query: str, **limits: int) -> policy.QueryInfo:
    return check_query(query, known_graphs=KNOWN, **limits)


def test_docstring_examples() -> None:
    result = doctest.testmod(policy)
    assert result.attempted > 0
    assert result.failed == 0


# --- keywords that are not keywords -------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        'SELECT * { ?s ?p "SERVICE <http://x/> {}" }',
        "SELECT * { ?s ?p 'INSERT DATA { <a> <b> <c> }' }",
        'SELECT * { ?s ?p """a " SERVICE "" \n DROP ALL""" }',
        "SELECT * { ?s ?p '''it's a ''SERVICE'' \n LOAD <x>''' }",
        "SELECT * { ?s <http://x/service> <http://x/insert#delete> }",
        "PREFIX ex: <http://x/> SELECT * { ?s ex:service ex:LOAD . ?s ex:drop ex:with }",
        "PREFIX service: <http://x/> PREFIX insert: <http://y/> SELECT * { ?s service:a insert: }",
        "SELECT * { ?s ?p ?o } # SERVICE <http://x/> {}",
        "SELECT * { ?s ?p ?o # INSERT DATA\n }",
        "SELECT ?service ?insert { ?service ?insert _:delete }",
        'SELECT * { ?s ?p "x"@service }',
        "SELECT * { ?s ?p 'escaped \\' SERVICE' }",
    ],
)
def test_keywords_inside_strings_iris_names_and_comments_are_not_flagged(query: str) -> None:
    assert check(query).form == "SELECT"


# --- SERVICE ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }",
        "SELECT * { service <http://127.0.0.1:1/> { ?s ?p ?o } }",
        "SELECT * { SeRvIcE<http://127.0.0.1:1/>{?s ?p ?o} }",
        "SELECT * { SERVICE SILENT <http://127.0.0.1:1/> { ?s ?p ?o } }",
        "SELECT * { SERVICE ?endpoint { ?s ?p ?o } }",
        "SELECT * {\n\tSERVICE\n\t<http://127.0.0.1:1/>\n{}}",
        "SELECT * { # comment\n SERVICE <http://127.0.0.1:1/> {} }",
        # A comment ends at CR as well as LF.
        "SELECT * { ?s ?p ?o } #\r SERVICE <http://127.0.0.1:1/> {}",
        "SELECT * { { SELECT * { SERVICE <http://127.0.0.1:1/> {} } } }",
        "ASK { FILTER EXISTS { SERVICE <http://127.0.0.1:1/> {} } }",
        # After an operand inside an expression, `<` is "less than", so the quote opens a
        # string for the parser: these hide nothing.
        "SELECT * { FILTER(?x<'b>') SERVICE <http://127.0.0.1:1/> {} #' }",
        "SELECT * { ?x ?p ?o FILTER regex(?x<'b>', 'a') SERVICE <http://127.0.0.1:1/> {} #' }",
        "SELECT * { { SELECT (?x<'b>' AS ?y) {} } SERVICE <http://127.0.0.1:1/> {} #' }",
        "SELECT * { BIND(1<'b>' AS ?y) SERVICE <http://127.0.0.1:1/> {} #' }",
        "SELECT ?x { ?x ?p ?o } ORDER BY (?x<'b>') #'\n SERVICE",
    ],
)
def test_service_is_refused_however_written(query: str) -> None:
    with pytest.raises(QueryRejected, match="SERVICE") as caught:
        check(query)
    assert caught.value.status == 400
    assert caught.value.line is not None and caught.value.column is not None


def test_the_lexer_reads_less_than_as_the_parser_does() -> None:
    # In a triple pattern `<` opens an IRI; after an operand in an expression it compares.
    assert [t.kind for t in tokenize("{ ?s <p'> ?o }")] == ["PUNCT", "VAR", "IRI", "VAR", "PUNCT"]
    kinds = [t.kind for t in tokenize("FILTER(?a<'p>')")]
    assert kinds == ["WORD", "PUNCT", "VAR", "PUNCT", "STRING", "PUNCT"]
    kinds = [t.kind for t in tokenize("FILTER(?a = <p>)")]
    assert kinds == ["WORD", "PUNCT", "VAR", "PUNCT", "IRI", "PUNCT"]


def test_where_a_refusal_is_is_reported() -> None:
    query = "PREFIX ex: <http://x/>\nSELECT * {\n    SERVICE <http://x/> {}\n}"
    with pytest.raises(QueryRejected) as caught:
        check(query)
    assert (caught.value.line, caught.value.column) == (3, 5)
    assert str(caught.value).startswith("line 3, column 5: ")


# --- updates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "INSERT DATA { <http://x/a> <http://x/b> <http://x/c> }",
        "DELETE WHERE { ?s ?p ?o }",
        "delete { ?s ?p ?o } where { ?s ?p ?o }",
        "LOAD <http://127.0.0.1:1/data.ttl>",
        "load silent <file:///etc/passwd> into graph <http://x/g>",
        "CLEAR ALL",
        "DROP GRAPH <http://x/g>",
        "CREATE GRAPH <http://x/g>",
        "ADD DEFAULT TO <http://x/g>",
        "MOVE <http://x/a> TO <http://x/b>",
        "COPY <http://x/a> TO <http://x/b>",
        "WITH <http://x/g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
        "PREFIX ex: <http://x/> INSERT DATA { ex:a ex:b ex:c }",
        "SELECT * {} ; INSERT DATA { <http://x/a> <http://x/b> <http://x/c> }",
    ],
)
def test_updates_are_refused_with_403(query: str) -> None:
    with pytest.raises(UpdateRejected, match="read-only") as caught:
        check(query)
    assert caught.value.status == 403


# --- the form -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "form"),
    [
        ("SELECT * { ?s ?p ?o }", "SELECT"),
        ("select distinct ?s where { ?s ?p ?o }", "SELECT"),
        ("ASK {}", "ASK"),
        ("CONSTRUCT WHERE { ?s ?p ?o }", "CONSTRUCT"),
        ("construct { ?s ?p ?o } where { ?s ?p ?o }", "CONSTRUCT"),
        ("DESCRIBE <http://x/a>", "DESCRIBE"),
        ("# a comment\nBASE <http://x/>\nPREFIX a: <b#>\nPREFIX : <c#>\nDESCRIBE :d", "DESCRIBE"),
        ("PREFIX select: <http://x/> ASK { ?s select:x ?o }", "ASK"),
    ],
)
def test_the_form_is_found_before_evaluation(query: str, form: str) -> None:
    assert check(query).form == form


@pytest.mark.parametrize("query", ["", "   # only a comment", "PREFIX ex: <x>", "FOO {}"])
def test_no_form_is_a_syntax_error(query: str) -> None:
    with pytest.raises(QuerySyntaxError, match="expected SELECT, ASK, CONSTRUCT or DESCRIBE"):
        check(query)


def test_an_unclosed_string_is_a_syntax_error_that_says_where() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        check("SELECT * {\n  ?s ?p 'no end }")
    assert (caught.value.line, caught.value.column) == (2, 9)


# --- the dataset --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "default", "named"),
    [
        (f"SELECT * FROM <{GRAPH}> {{}}", (GRAPH,), ()),
        (f"SELECT * FROM NAMED <{GRAPH}> {{}}", (), (GRAPH,)),
        ("PREFIX g: <https://w3id.org/bolyst/graph/data/> ASK FROM g:alpha {}", (GRAPH,), ()),
        ("BASE <https://w3id.org/bolyst/graph/> ASK FROM NAMED <data/alpha> {}", (), (GRAPH,)),
        ("ASK FROM <https://w3id.org/bolyst/graph/data/\\u0061lpha> {}", (GRAPH,), ()),
        ("ASK {}", (), ()),
    ],
)
def test_from_may_name_the_datasets_graphs(
    query: str, default: tuple[str, ...], named: tuple[str, ...]
) -> None:
    info = check(query)
    assert (info.from_graphs, info.from_named_graphs) == (default, named)
    assert info.has_dataset == bool(default or named)


def test_from_resolves_against_the_base_iri() -> None:
    info = check_query(
        "ASK FROM <alpha> {}", known_graphs=KNOWN, base_iri="https://w3id.org/bolyst/graph/data/"
    )
    assert info.from_graphs == (GRAPH,)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM <http://127.0.0.1:1/> { ?s ?p ?o }",
        "SELECT * FROM NAMED <http://127.0.0.1:1/> { ?s ?p ?o }",
        "SELECT * FROM <file:///etc/passwd> { ?s ?p ?o }",
        f"SELECT * FROM <{GRAPH}> FROM <https://w3id.org/bolyst/graph/data/nope> {{}}",
        "PREFIX ex: <http://127.0.0.1:1/> ASK FROM ex:x {}",
        "ASK FROM undeclared:x {}",
    ],
)
def test_from_outside_the_dataset_is_refused(query: str) -> None:
    with pytest.raises(QueryRejected, match="is not a graph of this dataset"):
        check(query)


# --- sizes --------------------------------------------------------------------------------------


def test_length_is_limited() -> None:
    query = "ASK {}" + " " * 94
    assert check(query, max_length=100).form == "ASK"
    with pytest.raises(QueryRejected, match="101 characters; at most 100"):
        check(query + " ", max_length=100)


@pytest.mark.parametrize(
    ("name", "query"),
    [
        # The three shapes that crash pyoxigraph 0.5.13 (segmentation fault, issue 9).
        ("2,500 nested groups", "SELECT * WHERE " + "{" * 2500 + "}" * 2500),
        ("4,700 nested parentheses", "ASK { FILTER(" + "(" * 4700 + "1" + ")" * 4700 + ") }"),
        ("9,400 !", "ASK { FILTER(" + "!" * 9400 + "true) }"),
        ("nested blank nodes", "ASK { ?s ?p " + "[ ?p " * 3000 + "1" + " ]" * 3000 + " }"),
        ("nested triple terms", "ASK { " + "<< " * 3000 + "?s ?p ?o" + " >> ?p ?o" * 3000 + " }"),
        ("inverse paths", "ASK { ?s " + "^" * 5000 + "<http://x/p> ?o }"),
    ],
)
def test_depth_bombs_are_refused_before_evaluation(name: str, query: str) -> None:
    started = time.perf_counter()
    with pytest.raises(QueryRejected, match="deeper than 64|operators in a row"):
        check(query)
    assert time.perf_counter() - started < 0.5, name


def test_nesting_up_to_the_limit_is_accepted() -> None:
    assert check("SELECT * WHERE " + "{" * 64 + "}" * 64).form == "SELECT"
    with pytest.raises(QueryRejected, match="deeper than 10 levels"):
        check("SELECT * WHERE " + "{" * 11 + "}" * 11, max_depth=10)


def test_unary_runs_are_limited() -> None:
    assert check("ASK { FILTER(" + "!" * MAX_UNARY_RUN + "true) }").form == "ASK"
    with pytest.raises(QueryRejected, match="operators in a row") as caught:
        check("ASK { FILTER(" + "!" * (MAX_UNARY_RUN + 1) + "true) }")
    assert caught.value.column == 14 + MAX_UNARY_RUN


def test_a_long_flat_query_is_checked_quickly() -> None:
    values = " ".join(f"<http://example.org/thing/{i}>" for i in range(2000))
    query = f"SELECT * {{ VALUES ?x {{ {values} }} }}"
    started = time.perf_counter()
    assert check(query, max_length=100_000).form == "SELECT"
    assert time.perf_counter() - started < 0.5
