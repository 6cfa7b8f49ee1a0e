"""Label selectors: string grammar, matching, structured selectors (K8S-SEMANTICS.md 1.2–1.4).

The tables mirror apimachinery's pkg/labels/selector_test.go (TestSelectorParse, TestLexer,
TestLexerSequence, TestSetSelectorParser, TestToString, TestRequirementConstructor,
TestRequirementSelectorMatching, TestSelectorMatches, TestDeterministicParse), labels_test.go
(TestLabelSelectorParse) and meta/v1 helpers_test.go / validation_test.go.
"""

from __future__ import annotations

import copy
import pickle
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitkube.errors import GitkubeError, SelectorError
from gitkube.labels.selector import (
    OPERATORS,
    Requirement,
    Selector,
    _lex,
    from_label_selector,
    from_map,
    parse,
    parse_labels_map,
)

P = pytest.param


def R(key: str, op: str, *values: str) -> Requirement:
    return Requirement(key, op, frozenset(values))


# ============================================================================================
# Lexer (TestLexer, TestLexerSequence)
# ============================================================================================

LEXER_SINGLE = [
    P("", "end", id="the empty string lexes as end of string"),
    P(",", ",", id="a comma is the comma token"),
    P("notin", "notin", id="notin is a keyword token"),
    P("in", "in", id="in is a keyword token"),
    P("=", "=", id="= is the equals token"),
    P("==", "==", id="== is one double-equals token, not two equals"),
    P(">", ">", id="> is the greater-than token"),
    P("<", "<", id="< is the less-than token"),
    P("!", "!", id="! alone is the does-not-exist token"),
    P("!=", "!=", id="!= is one not-equals token (longest match)"),
    P("(", "(", id="( is the open-paren token"),
    P(")", ")", id=") is the close-paren token"),
    P("~", "id", id="a non-special character is an identifier"),
    P("||", "id", id="|| is an identifier, not an operator"),
    P("\t\r\n x", "id", id="tab, CR, LF and space are skipped before a token"),
]


@pytest.mark.parametrize("text,kind", LEXER_SINGLE)
def test_lexer_first_token(text, kind):
    tok_kind, lit, _ = _lex(text)[0]
    assert tok_kind == kind
    if kind not in ("end",):
        assert lit == text.strip(" \t\r\n")


LEXER_SEQUENCES = [
    P("key in ( value )", ["id", "in", "(", "id", ")"], id="key in ( value ) lexes five tokens"),
    P("key notin ( value )", ["id", "notin", "(", "id", ")"], id="key notin ( value ) lexes five tokens"),
    P("key in ( value1, value2 )", ["id", "in", "(", "id", ",", "id", ")"],
      id="a two-value set lexes its comma"),
    P("key", ["id"], id="a bare key is one identifier"),
    P("!key", ["!", "id"], id="!key is not-token then identifier"),
    P("()", ["(", ")"], id="() is two paren tokens"),
    P("x in (),y", ["id", "in", "(", ")", ",", "id"], id="an empty set followed by another key"),
    P("== != (), = notin", ["==", "!=", "(", ")", ",", "=", "notin"],
      id="operators separated by spaces lex independently"),
    P("key>2", ["id", ">", "id"], id="key>2 lexes greater-than"),
    P("key<1", ["id", "<", "id"], id="key<1 lexes less-than"),
    P("x!==y", ["id", "!=", "=", "id"], id="!== is != then ="),
    P("x===y", ["id", "==", "=", "id"], id="=== is == then ="),
    P("a!b", ["id", "!", "id"], id="! splits an identifier"),
    P("x=a||y=b", ["id", "=", "id", "=", "id"], id="x=a||y=b has a trailing =b"),
]


@pytest.mark.parametrize("text,kinds", LEXER_SEQUENCES)
def test_lexer_sequence(text, kinds):
    toks = _lex(text)
    assert [k for k, _, _ in toks] == kinds + ["end"]


# ============================================================================================
# Parsing: valid strings and their canonical String() form
# ============================================================================================

VALID = [
    # TestSelectorParse good strings: String() equals the input with spaces removed
    P("x=a,y=b,z=c", "x=a,y=b,z=c", id="three equality requirements print unchanged"),
    P("", "", id="the empty string is the empty selector"),
    P("x!=a,y=b", "x!=a,y=b", id="not-equals and equals print unchanged"),
    P("x=", "x=", id="x= is valid and means the empty value"),
    P("x= ", "x=", id="x= followed by a space is the empty value"),
    P("x=,z= ", "x=,z=", id="two empty-value requirements"),
    P("x= ,z= ", "x=,z=", id="two empty-value requirements with spaces"),
    P("!x", "!x", id="!x is does-not-exist"),
    P("x>1", "x>1", id="x>1 is greater-than"),
    P("x>1,z<5", "x>1,z<5", id="greater-than and less-than together"),
    # whitespace
    P(" x = a , y = b ", "x=a,y=b", id="spaces around every token are ignored"),
    P("\rx", "x", id="a leading carriage return is whitespace"),
    P("foo  in\t (abc)", "foo in (abc)", id="tabs and double spaces around in are ignored"),
    P("x notin\n (abc)", "x notin (abc)", id="a newline after notin is whitespace"),
    P("x  notin\t\t\t(abc,def)", "x notin (abc,def)", id="several tabs before the set are whitespace"),
    P("   ", "", id="only whitespace is the empty selector"),
    P("a ", "a", id="a key with a trailing space is exists"),
    P("! x", "!x", id="whitespace between ! and the key is allowed"),
    # keys
    P("this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash",
      id="a prefixed key with dashes is valid"),
    P("this-is-another-dns.domain.com/key-with-dash in (so,what)",
      "this-is-another-dns.domain.com/key-with-dash in (so,what)", id="a prefixed key with an in set"),
    P("0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
      "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)", id="numeric prefix and dotted values"),
    P("example.com/Uppercase_Is_OK_123=v", "example.com/Uppercase_Is_OK_123=v",
      id="upper case and underscore are allowed in the key name"),
    P("a" * 253 + "/" + "b" * 63, "a" * 253 + "/" + "b" * 63, id="the longest valid key is accepted"),
    P("x=" + "v" * 63, "x=" + "v" * 63, id="a 63-character value is accepted"),
    # sets
    P("x in (abc,def)", "x in (abc,def)", id="an in set prints its values"),
    P("x in (def,abc)", "x in (abc,def)", id="values inside in are printed sorted"),
    P("x notin (zz,aa,mm)", "x notin (aa,mm,zz)", id="values inside notin are printed sorted"),
    P("x in (abc,)", "x in (,abc)", id="a trailing empty item adds the empty value"),
    P("x in ()", "x in ()", id="() is the single empty value"),
    P("x in ( )", "x in ()", id="( ) with a space is the single empty value"),
    P("x notin ( )", "x notin ()", id="notin ( ) is the single empty value"),
    P("x notin (, a)", "x notin (,a)", id="a leading empty item adds the empty value"),
    P("x in (,a)", "x in (,a)", id="(,a) is the set of empty and a"),
    P("x in (a,,)", "x in (,a)", id="(a,,) is the set of empty and a (K8S-SEMANTICS 1.2)"),
    P("x in (a,,b)", "x in (,a,b)", id="an empty item between values adds the empty value"),
    P("x in (,)", "x in ()", id="(,) is just the empty value"),
    P("x in (abc,abc)", "x in (abc)", id="duplicate values collapse"),
    P("x notin (abc,,def),bar,z in (),w", "bar,w,x notin (,abc,def),z in ()",
      id="mixed set requirements are sorted by key"),
    P("a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)", id="in and notin are ordinary values inside a set"),
    # in / notin as identifiers
    P("notin=in", "notin=in", id="notin as a key and in as a value are identifiers"),
    P("in", "in", id="in alone is a key that must exist"),
    P("!notin", "!notin", id="!notin is a does-not-exist on the key notin"),
    P("in in (in)", "in in (in)", id="in used as key, operator and value"),
    P("notin notin (notin)", "notin notin (notin)", id="notin used as key, operator and value"),
    P("x,in", "in,x", id="in after a comma is a key"),
    P("x==in", "x==in", id="in after == is a value"),
    # operators print as written
    P("x==a", "x==a", id="== is kept distinct from ="),
    P("x!=", "x!=", id="x!= means not the empty value"),
    P("x>0,x<10", "x>0,x<10", id="two requirements on one key keep their order"),
    P("x<10,x>0", "x<10,x>0", id="equal keys keep the written order (stable sort)"),
    P("x>007", "x>007", id="Gt keeps the value text as written"),
    P("x>9223372036854775807", "x>9223372036854775807", id="the largest int64 is accepted for Gt"),
    P("x=a,x=b", "x=a,x=b", id="two requirements on the same key are both kept"),
    # sorting
    P("x=a,a=x", "a=x,x=a", id="requirements are sorted by key"),
    P("x,y in (a)", "x,y in (a)", id="exists and in sorted by key"),
    P("z,!y,x=1,w notin (a),v in (b),u!=c,t>1,s<2",
      "s<2,t>1,u!=c,v in (b),w notin (a),x=1,!y,z", id="every operator sorted and printed canonically"),
]


@pytest.mark.parametrize("text,canonical", VALID)
def test_valid_selector_string_has_canonical_form(text, canonical):
    sel = parse(text)
    assert str(sel) == canonical


@pytest.mark.parametrize("text,canonical", VALID)
def test_canonical_form_parses_back_to_the_same_selector(text, canonical):
    assert parse(canonical) == parse(text)
    assert str(parse(canonical)) == canonical


# ============================================================================================
# Parsing: structure (TestSetSelectorParser)
# ============================================================================================

STRUCTURE = [
    P("", (), id="empty string has no requirements"),
    P("\rx", (R("x", "exists"),), id="carriage return then x is exists"),
    P("x", (R("x", "exists"),), id="a bare key is exists"),
    P("!x", (R("x", "!"),), id="!key is does-not-exist"),
    P("x=a", (R("x", "=", "a"),), id="x=a is equals"),
    P("x==a", (R("x", "==", "a"),), id="x==a is double-equals"),
    P("x!=a", (R("x", "!=", "a"),), id="x!=a is not-equals"),
    P("x>1", (R("x", ">", "1"),), id="x>1 is greater-than with value 1"),
    P("x<7", (R("x", "<", "7"),), id="x<7 is less-than with value 7"),
    P("x=", (R("x", "=", ""),), id="x= has the single empty value"),
    P("x in ()", (R("x", "in", ""),), id="in () has the single empty value"),
    P("x in (abc,)", (R("x", "in", "abc", ""),), id="in (abc,) has abc and empty"),
    P("x notin (, a)", (R("x", "notin", "", "a"),), id="notin (, a) has empty and a"),
    P("x in (a,,)", (R("x", "in", "", "a"),), id="in (a,,) has empty and a"),
    P("x in (abc,abc)", (R("x", "in", "abc"),), id="duplicate values collapse to one"),
    P("x notin (abc,,def),bar,z in (),w",
      (R("bar", "exists"), R("w", "exists"), R("x", "notin", "abc", "", "def"), R("z", "in", "")),
      id="four requirements come out sorted by key"),
    P("x=a,y!=b,z in (h,i,j)", (R("x", "=", "a"), R("y", "!=", "b"), R("z", "in", "h", "i", "j")),
      id="equals, not-equals and in together"),
    P("a in (x,y,notin, z,in)", (R("a", "in", "in", "notin", "x", "y", "z"),),
      id="keywords inside a set are values"),
]


@pytest.mark.parametrize("text,reqs", STRUCTURE)
def test_parse_produces_requirements(text, reqs):
    sel = parse(text)
    assert sel.requirements == reqs
    assert sel == Selector(reqs)


# ============================================================================================
# Parsing: invalid strings
# ============================================================================================

INVALID = [
    # TestSelectorParse bad strings
    P("x=a||y=b", "found '=', expected ',' or end of string", id="x=a||y=b fails on the trailing =b"),
    P("x==a==b", "found '=='", id="a second == after a value is an error"),
    P("!x=a", "found '='", id="!key=value is an error"),
    P("!x in (a)", "found 'in'", id="!key in (...) is an error"),
    P("x<a", "integer", id="x<a fails because a is not an integer"),
    P("x>a", "integer", id="x>a fails because a is not an integer"),
    P("x>", "integer", id="Gt without a value fails"),
    P("x>1.5", "integer", id="Gt with a decimal fails"),
    P("x>1_000", "integer", id="Gt with an underscore digit separator fails"),
    P("x>9223372036854775808", "integer", id="Gt beyond int64 fails"),
    P("x>-1", "invalid value", id="Gt with a negative number fails label value validation"),
    # commas
    P("x,,y", "found ','", id="a double comma between requirements is an error"),
    P(",x,y", "found ','", id="a leading comma is an error"),
    P(",", "found ','", id="a lone comma is an error"),
    P("a in (xyz),", "found end of string", id="a trailing comma is an error"),
    P("x,", "found end of string", id="a trailing comma after exists is an error"),
    P("x=a,", "found end of string", id="a trailing comma after equals is an error"),
    # operators and sets
    P("x nott in (y)", "found 'nott'", id="an unknown operator word is an error"),
    P("a in (xyz abc)", "found 'abc', expected ',' or ')'", id="values must be separated by commas"),
    P("a notin(", "found end of string", id="an unclosed set is an error"),
    P("a in (x", "found end of string", id="a set missing its close paren is an error"),
    P("a in (x,", "found end of string", id="a set ending in a comma without a paren is an error"),
    P("a (", "found '('", id="a paren without in or notin is an error"),
    P("(", "found '('", id="a lone open paren is an error"),
    P(")", "found ')'", id="a lone close paren is an error"),
    P("a in (xyz)b notin ()", "found 'b'", id="a requirement right after a set needs a comma"),
    P("x in", "expected '('", id="in without a set is an error"),
    P("x in a", "expected '('", id="in with a bare value is an error"),
    P("x in ((a))", "found '('", id="nested parens are an error"),
    P("x in (=)", "found '='", id="an operator inside a set is an error"),
    P("x=(a)", "found '('", id="a set after = is an error"),
    P("x= =a", "found '='", id="= followed by = is an error"),
    P("x y", "found 'y'", id="two keys without a comma is an error"),
    P("x = a b", "found 'b'", id="two values after = is an error"),
    P("!", "found end of string", id="! without a key is an error"),
    P("!!x", "found '!'", id="a double ! is an error"),
    P("!=x", "found '!='", id="a selector starting with != is an error"),
    P("=x", "found '='", id="a selector starting with = is an error"),
    P("x !y", "found '!'", id="! in operator position is an error"),
    P("x=a;b", "invalid value \"a;b\"", id="a semicolon is part of the value and fails validation"),
    P("x=a;y=b", "found '='", id="a semicolon does not separate requirements"),
    # key validation
    P("x=$y", "invalid value \"$y\"", id="a dollar sign in a value fails validation"),
    P("Example.com/abc", "invalid key", id="an upper-case prefix fails key validation"),
    P("example_com/abc", "invalid key", id="an underscore in the prefix fails key validation"),
    P("/abc", "invalid key", id="an empty prefix fails key validation"),
    P("example.com/", "invalid key", id="an empty key name fails key validation"),
    P("a/b/c", "invalid key", id="a key with two slashes fails key validation"),
    P("-x", "invalid key", id="a key starting with a dash fails validation"),
    P("a" * 254, "invalid key", id="a 254-character key fails validation"),
    P("a" * 64 + "=x", "invalid key", id="a 64-character key name fails validation"),
    P("x=" + "v" * 64, "invalid value", id="a 64-character value fails validation"),
    P("x=-a", "invalid value", id="a value starting with a dash fails validation"),
    P("x=a.", "invalid value", id="a value ending with a dot fails validation"),
    P("x=caf\u00e9", "invalid value", id="a non-ASCII value fails validation"),
    P("x in (a,b c)", "found 'c'", id="a space inside a value is an error"),
    P("x in (a,$b)", "invalid value", id="an invalid value inside a set fails validation"),
    P("x\x00y", "invalid key", id="a NUL inside a key fails validation"),
    P("x \x00garbage", "found", id="a NUL does not end the selector early"),
    P("x\x0by", "invalid key", id="a vertical tab is not whitespace and fails validation"),
]


@pytest.mark.parametrize("text,fragment", INVALID)
def test_invalid_selector_raises(text, fragment):
    with pytest.raises(SelectorError) as info:
        parse(text)
    msg = str(info.value)
    assert msg.startswith("invalid label selector ")
    assert fragment in msg
    assert "\n" not in msg
    assert isinstance(info.value.position, int) and 0 <= info.value.position <= len(text)
    assert info.value.selector == text


def test_error_message_names_the_token_exactly():
    with pytest.raises(SelectorError) as info:
        parse("x=a||y=b")
    assert str(info.value) == 'invalid label selector "x=a||y=b": found \'=\', expected \',\' or end of string'
    assert info.value.position == 6


def test_selector_error_is_a_gitkube_error():
    with pytest.raises(GitkubeError):
        parse("x,,y")


def test_parse_rejects_non_strings():
    with pytest.raises(TypeError):
        parse(None)  # type: ignore[arg-type]


# ============================================================================================
# TestDeterministicParse
# ============================================================================================

def test_deterministic_parse():
    s1, s2 = parse("x=a,a=x"), parse("a=x,x=a")
    assert str(s1) == str(s2) == "a=x,x=a"
    assert s1 == s2
    assert hash(s1) == hash(s2)


# ============================================================================================
# Matching (TestSelectorMatches, TestRequirementSelectorMatching, section 1.3)
# ============================================================================================

MATCHES = [
    # TestSelectorMatches: expectMatch
    P("", {"x": "y"}, True, id="the empty selector matches anything"),
    P("", {}, True, id="the empty selector matches an object without labels"),
    P("x=y", {"x": "y"}, True, id="x=y matches x=y"),
    P("x=y,z=w", {"x": "y", "z": "w"}, True, id="two equalities both hold"),
    P("x!=y,z!=w", {"x": "z", "z": "a"}, True, id="two inequalities both hold"),
    P("notin=in", {"notin": "in"}, True, id="notin=in matches the label notin=in"),
    P("x", {"x": "z"}, True, id="exists matches a present key"),
    P("!x", {"y": "z"}, True, id="does-not-exist matches when the key is absent"),
    P("x>1", {"x": "2"}, True, id="x>1 matches 2"),
    P("x<1", {"x": "0"}, True, id="x<1 matches 0"),
    # TestSelectorMatches: expectNoMatch
    P("x=z", {}, False, id="x=z does not match an object without labels"),
    P("x=y", {"x": "z"}, False, id="x=y does not match x=z"),
    P("x=y,z=w", {"x": "w", "z": "w"}, False, id="requirements are ANDed, not ORed"),
    P("x!=y,z!=w", {"x": "z", "z": "w"}, False, id="one failed inequality fails the selector"),
    P("x", {"y": "z"}, False, id="exists does not match an absent key"),
    P("!x", {"x": "z"}, False, id="does-not-exist does not match a present key"),
    P("x>1", {"x": "0"}, False, id="x>1 does not match 0"),
    P("x<1", {"x": "2"}, False, id="x<1 does not match 2"),
    P("foo=bar", {"foo": "bar", "baz": "blah"}, True, id="foo=bar matches a superset of labels"),
    P("baz=blah", {"foo": "bar", "baz": "blah"}, True, id="baz=blah matches a superset of labels"),
    P("foo=bar,baz=blah", {"foo": "bar", "baz": "blah"}, True, id="both labels of the set match"),
    P("foo=blah", {"foo": "bar", "baz": "blah"}, False, id="foo=blah does not match foo=bar"),
    P("baz=bar", {"foo": "bar", "baz": "blah"}, False, id="baz=bar does not match baz=blah"),
    P("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}, False,
      id="a requirement on a missing key fails the selector"),
    # section 1.3
    P("tier!=frontend", {"app": "web"}, True, id="tier!=frontend matches an object without tier"),
    P("tier!=frontend", {"tier": "backend"}, True, id="tier!=frontend matches tier=backend"),
    P("tier!=frontend", {"tier": "frontend"}, False, id="tier!=frontend does not match tier=frontend"),
    P("tier!=frontend", {}, True, id="tier!=frontend matches an object with no labels"),
    P("env notin (prod,qa)", {}, True, id="notin matches when the key is absent"),
    P("env notin (prod,qa)", {"env": "dev"}, True, id="notin matches a value outside the set"),
    P("env notin (prod,qa)", {"env": "qa"}, False, id="notin does not match a value inside the set"),
    P("env in (prod,qa)", {"env": "qa"}, True, id="in matches any value of the set"),
    P("env in (prod,qa)", {"env": "dev"}, False, id="in does not match a value outside the set"),
    P("env in (prod,qa)", {}, False, id="in does not match when the key is absent"),
    P("x=", {"x": ""}, True, id="x= matches the empty value"),
    P("x=", {}, False, id="x= does not match an absent key"),
    P("x=", {"x": "a"}, False, id="x= does not match a non-empty value"),
    P("x==", {"x": ""}, True, id="x== matches the empty value"),
    P("x!=", {}, True, id="x!= matches an absent key"),
    P("x!=", {"x": ""}, False, id="x!= does not match the empty value"),
    P("x!=", {"x": "a"}, True, id="x!= matches a non-empty value"),
    P("x in ()", {"x": ""}, True, id="x in () matches the empty value"),
    P("x in ()", {}, False, id="x in () does not match an absent key"),
    P("x in ()", {"x": "a"}, False, id="x in () does not match a non-empty value"),
    P("x notin ()", {}, True, id="x notin () matches an absent key"),
    P("x notin ()", {"x": ""}, False, id="x notin () does not match the empty value"),
    P("x in (a,)", {"x": ""}, True, id="x in (a,) matches the empty value"),
    P("x in (a,)", {"x": "a"}, True, id="x in (a,) matches a"),
    P("x", {"x": ""}, True, id="exists matches a key with an empty value"),
    P("!x", {"x": ""}, False, id="does-not-exist fails on a key with an empty value"),
    P("x,!y", {"x": "1"}, True, id="exists and does-not-exist together"),
    P("x,!y", {"x": "1", "y": "2"}, False, id="does-not-exist fails when the other key is present"),
    P("x>1", {}, False, id="Gt does not match an absent key"),
    P("x<1", {}, False, id="Lt does not match an absent key"),
    P("x>1", {"x": "v2"}, False, id="Gt does not match a non-integer label value"),
    P("x<10", {"x": "abc"}, False, id="Lt does not match a non-integer label value"),
    P("x>1", {"x": "1"}, False, id="Gt is strict"),
    P("x<1", {"x": "1"}, False, id="Lt is strict"),
    P("x>1", {"x": "010"}, True, id="Gt reads leading zeros as base 10"),
    P("x<0", {"x": "-5"}, True, id="Lt reads a negative label value"),
    P("x>0", {"x": "+5"}, True, id="Gt reads a plus-signed label value"),
    P("x>0", {"x": "99999999999999999999"}, False, id="Gt does not match a label beyond int64"),
    P("x>0", {"x": " 5"}, False, id="Gt does not match a label with whitespace"),
    P("x>0", {"x": "\u0665"}, False, id="Gt does not match non-ASCII digits"),
    P("x>1,x<5", {"x": "3"}, True, id="a range with Gt and Lt matches a value inside"),
    P("x>1,x<5", {"x": "5"}, False, id="a range with Gt and Lt excludes its bound"),
    P("x=a,x=b", {"x": "a"}, False, id="two equalities on one key never both hold"),
    P("app=web,tier!=frontend", {"app": "web"}, True, id="equality plus inequality on a missing key"),
    P("app in (web,db),!canary", {"app": "db"}, True, id="in plus does-not-exist"),
    P("app in (web,db),!canary", {"app": "db", "canary": "true"}, False,
      id="in plus does-not-exist fails when the key is present"),
    P("a=b", {"A": "b"}, False, id="keys are case-sensitive"),
    P("a=b", {"a": "B"}, False, id="values are case-sensitive"),
    P("example.com/app=web", {"example.com/app": "web"}, True, id="prefixed keys match exactly"),
    P("example.com/app=web", {"app": "web"}, False, id="a prefixed key does not match the bare name"),
]


@pytest.mark.parametrize("text,labels,expected", MATCHES)
def test_selector_matching(text, labels, expected):
    sel = parse(text)
    assert sel.matches(labels) is expected
    assert sel.matches(labels) is expected  # second call goes through the compiled function
    # every requirement agrees with the whole selector
    assert all(r.matches(labels) for r in sel.requirements) is expected


@pytest.mark.parametrize("text,labels,expected", MATCHES)
def test_matching_works_on_a_fresh_copy_and_on_unpickled_selectors(text, labels, expected):
    sel = parse(text)
    assert pickle.loads(pickle.dumps(sel)).matches(labels) is expected
    assert copy.deepcopy(sel).matches(labels) is expected


def test_none_labels_count_as_no_labels():
    assert parse("x!=a").matches(None) is True
    assert parse("x").matches(None) is False
    assert parse("").matches(None) is True
    assert Requirement("x", "!", frozenset()).matches(None) is True


def test_matching_accepts_any_mapping():
    from types import MappingProxyType

    assert parse("a=b,!c,d").matches(MappingProxyType({"a": "b", "d": ""})) is True


REQUIREMENT_MATCHING = [
    # TestRequirementSelectorMatching
    P({"x": "foo", "y": "baz"}, [Requirement("", "", frozenset())], False,
      id="a zero-value requirement matches nothing"),
    P({"x": "foo", "y": "baz"}, [R("x", "in", "foo"), R("y", "notin", "alpha")], True,
      id="in and notin both hold"),
    P({"x": "foo", "y": "baz"}, [R("x", "in", "foo"), R("y", "in", "alpha")], False,
      id="in fails for a value outside the set"),
    P({"y": ""}, [R("x", "notin", ""), R("y", "exists")], True,
      id="notin on an absent key and exists on an empty value"),
    P({"y": ""}, [R("x", "!"), R("y", "exists")], True,
      id="does-not-exist on an absent key and exists on an empty value"),
    P({"y": ""}, [R("x", "notin", ""), R("y", "!")], False,
      id="does-not-exist fails on a key with an empty value"),
    P({"y": "baz"}, [R("x", "in", "")], False, id="in with the empty value needs the key"),
    P({"z": "2"}, [R("z", ">", "1")], True, id="Gt matches a larger integer"),
    P({"z": "v2"}, [R("z", ">", "1")], False, id="Gt does not match a non-integer"),
    # direct construction without validation
    P({"x": "a"}, [Requirement("x", "In", frozenset({"a"}))], False,
      id="an unknown operator spelling matches nothing"),
    P({"x": "5"}, [Requirement("x", ">", frozenset({"a"}))], False,
      id="an unvalidated Gt with a non-integer value matches nothing"),
    P({"x": "5"}, [Requirement("x", ">", frozenset())], False, id="an unvalidated Gt without a value matches nothing"),
    P({"x": "b"}, [Requirement("x", "=", frozenset({"a", "b"}))], True,
      id="an unvalidated multi-value equals matches any of its values"),
    P({"x": "c"}, [Requirement("x", "!=", frozenset({"a", "b"}))], True,
      id="an unvalidated multi-value not-equals matches other values"),
]


@pytest.mark.parametrize("labels,reqs,expected", REQUIREMENT_MATCHING)
def test_requirement_selector_matching(labels, reqs, expected):
    sel = Selector(tuple(reqs))
    assert sel.matches(labels) is expected
    assert all(r.matches(labels) for r in reqs) is expected


# ============================================================================================
# Requirement constructor (TestRequirementConstructor)
# ============================================================================================

REQUIREMENT_NEW = [
    P("x1", "in", [], "can't be empty", id="in without values is rejected"),
    P("x2", "notin", [], "can't be empty", id="notin without values is rejected"),
    P("x3", "in", ["foo"], None, id="in with one value is accepted"),
    P("x4", "notin", ["foo"], None, id="notin with one value is accepted"),
    P("x5", "=", ["foo", "bar"], "exactly one value", id="equals with two values is rejected"),
    P("x5b", "=", [], "exactly one value", id="equals without a value is rejected"),
    P("x6", "exists", [], None, id="exists without values is accepted"),
    P("x7", "!", [], None, id="does-not-exist without values is accepted"),
    P("x8", "exists", ["foo"], "must be empty", id="exists with a value is rejected"),
    P("x8b", "!", ["foo"], "must be empty", id="does-not-exist with a value is rejected"),
    P("x9", "in", ["bar"], None, id="in with a value is accepted again"),
    P("x11", ">", ["1"], None, id="Gt with an integer is accepted"),
    P("x12", "<", ["6"], None, id="Lt with an integer is accepted"),
    P("x13", ">", [], "exactly one value", id="Gt without a value is rejected"),
    P("x13b", ">", ["1", "2"], "exactly one value", id="Gt with two values is rejected"),
    P("x14", ">", ["bar"], "integer", id="Gt with a non-integer is rejected"),
    P("x15", "<", ["bar"], "integer", id="Lt with a non-integer is rejected"),
    P("a" * 254, "exists", [], "invalid key", id="a 254-character key is rejected"),
    P("x16", "=", ["a" * 254], "invalid value", id="a 254-character value is rejected"),
    P("x17", "=", ["a b"], "invalid value", id="a value with a space is rejected"),
    P("x18", "unsupportedOp", [], "not a valid selector operator", id="an unsupported operator is rejected"),
    P("x19", "In", ["a"], "not a valid selector operator", id="structured operator spellings are not string operators"),
    P("x20", "in", [""], None, id="the empty string is a valid value"),
]


@pytest.mark.parametrize("key,op,values,error", REQUIREMENT_NEW)
def test_requirement_new(key, op, values, error):
    if error is None:
        r = Requirement.new(key, op, values)
        assert r == Requirement(key, op, frozenset(values))
    else:
        with pytest.raises(SelectorError, match=error):
            Requirement.new(key, op, values)


def test_requirement_values_must_not_be_a_bare_string():
    with pytest.raises(TypeError):
        Requirement("x", "in", "abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Requirement.new("x", "in", "abc")


def test_requirement_values_are_normalised_to_frozenset():
    r = Requirement("x", "in", ["b", "a", "a"])  # type: ignore[arg-type]
    assert r.values == frozenset({"a", "b"})
    assert r == R("x", "in", "a", "b")
    assert hash(r) == hash(R("x", "in", "b", "a"))


def test_operator_list_is_complete():
    assert set(OPERATORS) == {"=", "==", "!=", "in", "notin", "exists", "!", ">", "<"}


# ============================================================================================
# String() of hand-built selectors (TestToString)
# ============================================================================================

TO_STRING = [
    P([R("x", "in", "abc", "def"), R("y", "notin", "jkl"), R("z", "exists")],
      "x in (abc,def),y notin (jkl),z", id="in, notin and exists print canonically"),
    P([R("x", "notin", "abc", "def"), R("y", "!=", "jkl"), R("z", "!")],
      "x notin (abc,def),y!=jkl,!z", id="notin, not-equals and does-not-exist print canonically"),
    P([R("x", "notin", "abc"), R("y", "in", "jkl", "mno"), R("z", "notin", "")],
      "x notin (abc),y in (jkl,mno),z notin ()", id="a notin set of only the empty value prints ()"),
    P([R("x", "=", "abc"), R("y", "==", "jkl"), R("z", "!=", "a"), R("z", "exists")],
      "x=abc,y==jkl,z!=a,z", id="equals, double-equals and two requirements on one key"),
    P([R("x", ">", "2"), R("y", "<", "8"), R("z", "exists")], "x>2,y<8,z", id="Gt and Lt print without spaces"),
    P([R("z", "exists"), R("a", "=", "1")], "a=1,z", id="requirements given out of order are sorted"),
    P([], "", id="no requirements prints the empty string"),
]


@pytest.mark.parametrize("reqs,expected", TO_STRING)
def test_to_string(reqs, expected):
    assert str(Selector(tuple(reqs))) == expected


# ============================================================================================
# Selector properties
# ============================================================================================

def test_everything_matches_everything_and_is_empty():
    e = Selector.everything()
    assert e.matches({"x": "y"}) and e.matches({})
    assert e.empty
    assert str(e) == ""
    assert e == parse("") == Selector(()) == from_map({}) == from_label_selector({})
    assert e.equality_pairs() == []


def test_nothing_matches_nothing_and_is_not_empty():
    n = Selector.nothing()
    assert not n.matches({"x": "y"}) and not n.matches({})
    assert not n.empty
    assert str(n) == ""
    assert n != Selector.everything()
    assert n.equality_pairs() == []
    assert n.add(R("x", "exists")) is n
    assert repr(n) == "Selector.nothing()"
    assert pickle.loads(pickle.dumps(n)) == n
    assert not pickle.loads(pickle.dumps(n)).matches({})


def test_non_empty_selector_is_not_empty():
    assert not parse("x").empty


EQUALITY_PAIRS = [
    P("a=1,b==2,c in (3),d in (4,5),e!=6,f,!g,h>1,i notin (7)", [("a", "1"), ("b", "2"), ("c", "3")],
      id="only =, == and single-value in give equality pairs"),
    P("x=", [("x", "")], id="an empty value is still an equality pair"),
    P("x in ()", [("x", "")], id="in () is the equality pair with the empty value"),
    P("z=1,a=2", [("a", "2"), ("z", "1")], id="equality pairs come in key order"),
    P("x notin (a)", [], id="notin gives no equality pair"),
]


@pytest.mark.parametrize("text,pairs", EQUALITY_PAIRS)
def test_equality_pairs(text, pairs):
    assert parse(text).equality_pairs() == pairs


def test_equality_pairs_are_necessary_conditions():
    sel = parse("app=web,tier in (fe),env notin (prod)")
    labels = {"app": "web", "tier": "fe"}
    assert sel.matches(labels)
    assert all(labels.get(k) == v for k, v in sel.equality_pairs())


REQUIRES_EXACT = [
    P("key in (value)", "key", "value", id="single-value in pins the value"),
    P("key in (value,value2)", "key", None, id="multi-value in does not pin a value"),
    P("key in (value,value1),key2 in (value2)", "key2", "value2", id="the second key is found"),
    P("key=value", "key", "value", id="equals pins the value"),
    P("key==value", "key", "value", id="double-equals pins the value"),
    P("key!=value", "key", None, id="not-equals does not pin a value"),
    P("key in (value),key2 in (value2)", "key", "value", id="the first key is found"),
    P("other=x", "key", None, id="an absent key pins nothing"),
]


@pytest.mark.parametrize("text,key,value", REQUIRES_EXACT)
def test_requires_exact_match(text, key, value):
    assert parse(text).requires_exact_match(key) == value


def test_add_keeps_sorting():
    sel = parse("b=1").add(R("a", "exists"), R("c", "!"))
    assert str(sel) == "a,b=1,!c"
    assert sel == parse("!c,a,b=1")
    assert parse("b=1").add() == parse("b=1")


def test_selectors_are_immutable_and_hashable():
    sel = parse("a=b")
    with pytest.raises(Exception):
        sel.requirements = ()  # type: ignore[misc]
    assert {parse("a=b"), parse(" a = b ")} == {sel}


def test_selector_requirements_must_be_requirements():
    with pytest.raises(TypeError):
        Selector(("a=b",))  # type: ignore[arg-type]


def test_repr_is_readable():
    assert repr(parse("b=1,a")) == "Selector('a,b=1')"
    assert repr(Selector.everything()) == "Selector.everything()"
    assert repr(R("x", "in", "b", "a")) == "Requirement('x', 'in', {'a', 'b'})"


# ============================================================================================
# Structured selectors (metav1.LabelSelector)
# ============================================================================================

_ML = {"foo": "bar"}
_ME = [{"key": "baz", "operator": "In", "values": ["qux", "norf"]}]

STRUCTURED = [
    # TestLabelSelectorAsSelector
    P({}, "", True, id="an empty selector is everything"),
    P({"matchLabels": {}, "matchExpressions": []}, "", True, id="empty matchLabels and matchExpressions is everything"),
    P({"matchLabels": None, "matchExpressions": None}, "", True, id="null matchLabels and matchExpressions is everything"),
    P({"matchLabels": _ML}, "foo=bar", False, id="matchLabels become equals requirements"),
    P({"matchExpressions": _ME}, "baz in (norf,qux)", False, id="an In expression becomes an in requirement"),
    P({"matchLabels": _ML, "matchExpressions": _ME}, "baz in (norf,qux),foo=bar", False,
      id="matchLabels and matchExpressions are ANDed and sorted by key"),
    P({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["x"]}]}, "a notin (x)", False,
      id="NotIn becomes notin"),
    P({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, "a", False, id="Exists becomes exists"),
    P({"matchExpressions": [{"key": "a", "operator": "DoesNotExist", "values": []}]}, "!a", False,
      id="DoesNotExist with an empty values list becomes does-not-exist"),
    P({"matchExpressions": [{"key": "a", "operator": "In", "values": [""]}]}, "a in ()", False,
      id="the empty string is a valid In value"),
    P({"matchLabels": {"b": "1", "a": "2"}, "matchExpressions": [{"key": "a", "operator": "Exists"}]},
      "a=2,a,b=1", False, id="matchLabels come before expressions on the same key"),
    P({"matchLabels": {"tier": ""}}, "tier=", False, id="an empty matchLabels value means the empty value"),
]


@pytest.mark.parametrize("sel,canonical,is_empty", STRUCTURED)
def test_structured_selector_conversion(sel, canonical, is_empty):
    out = from_label_selector(sel)
    assert str(out) == canonical
    assert out.empty is is_empty
    if canonical:
        assert out == parse(canonical)


def test_nil_structured_selector_is_nothing():
    sel = from_label_selector(None)
    assert sel is Selector.nothing()
    assert not sel.matches({"any": "label"})
    assert not sel.matches({})


def test_empty_structured_selector_is_everything():
    sel = from_label_selector({})
    assert sel.matches({"any": "label"}) and sel.matches({})


def test_structured_selector_is_not_modified():
    sel = {"matchLabels": dict(_ML), "matchExpressions": [dict(e, values=list(e["values"])) for e in _ME]}
    before = copy.deepcopy(sel)
    from_label_selector(sel)
    assert sel == before


STRUCTURED_MATCHING = [
    P({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["fe"]}]},
      {"app": "web"}, True, id="NotIn matches an object without the key"),
    P({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {"tier": ""}, False,
      id="DoesNotExist fails on a key with an empty value"),
    P({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {"tier": ""}, True,
      id="Exists holds on a key with an empty value"),
    P({"matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}]}, {"env": "b"}, True,
      id="In matches any of its values"),
]


@pytest.mark.parametrize("sel,labels,expected", STRUCTURED_MATCHING)
def test_structured_selector_matching(sel, labels, expected):
    assert from_label_selector(sel).matches(labels) is expected


STRUCTURED_INVALID = [
    P({"matchExpressions": [{"key": "baz", "operator": "Exists", "values": ["qux", "norf"]}]},
      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'", id="Exists with values is rejected"),
    P({"matchExpressions": [{"key": "baz", "operator": "DoesNotExist", "values": ["x"]}]},
      "may not be specified", id="DoesNotExist with values is rejected"),
    P({"matchExpressions": [{"key": "baz", "operator": "In"}]},
      "must be specified when `operator` is 'In' or 'NotIn'", id="In without values is rejected"),
    P({"matchExpressions": [{"key": "baz", "operator": "NotIn", "values": []}]},
      "must be specified", id="NotIn with an empty values list is rejected"),
    P({"matchExpressions": [{"key": "baz", "operator": "Foo", "values": ["a"]}]},
      '"Foo" is not a valid label selector operator', id="an unknown operator is rejected"),
    P({"matchExpressions": [{"key": "baz", "operator": "in", "values": ["a"]}]},
      '"in" is not a valid label selector operator', id="operators are case-sensitive"),
    P({"matchExpressions": [{"key": "baz", "operator": "Gt", "values": ["1"]}]},
      '"Gt" is not a valid label selector operator', id="Gt is not a label selector operator"),
    P({"matchExpressions": [{"key": "baz", "values": ["a"]}]},
      '"" is not a valid label selector operator', id="a missing operator is rejected"),
    P({"matchExpressions": [{"key": "Bad Key", "operator": "Exists"}]}, "invalid key", id="an invalid key is rejected"),
    P({"matchExpressions": [{"operator": "Exists"}]}, "invalid key", id="a missing key is rejected"),
    P({"matchExpressions": [{"key": "a", "operator": "In", "values": ["$x"]}]}, "invalid value",
      id="an invalid value is rejected"),
    P({"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]}, "must be strings",
      id="a non-string value is rejected"),
    P({"matchExpressions": [{"key": "a", "operator": "In", "values": "abc"}]}, "must be a list",
      id="values given as a string is rejected"),
    P({"matchExpressions": [{"key": "a", "operator": "Exists", "value": ["x"]}]}, 'unknown field "value"',
      id="an unknown expression field is rejected"),
    P({"matchLabels": {"Example.com/abc": "x"}}, "invalid key", id="an invalid matchLabels key is rejected"),
    P({"matchLabels": {"a": "x y"}}, "invalid value", id="an invalid matchLabels value is rejected"),
    P({"matchLabels": {"version": 1}}, "must be a string", id="a non-string matchLabels value is rejected"),
    P({"matchLabels": ["a=b"]}, "matchLabels must be a mapping", id="matchLabels as a list is rejected"),
    P({"matchExpressions": {"key": "a"}}, "matchExpressions must be a list",
      id="matchExpressions as a mapping is rejected"),
    P({"matchExpressions": ["a"]}, "must be a mapping", id="an expression that is not a mapping is rejected"),
    P({"matchLabel": {"a": "b"}}, 'unknown field "matchLabel"', id="a misspelt field is rejected, not ignored"),
    P("app=web", "expected a mapping", id="a string is not a structured selector"),
]


@pytest.mark.parametrize("sel,fragment", STRUCTURED_INVALID)
def test_structured_selector_rejects(sel, fragment):
    with pytest.raises(SelectorError) as info:
        from_label_selector(sel)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


# ============================================================================================
# Service / ReplicationController selector maps
# ============================================================================================

def test_from_map_none_is_nothing_and_empty_is_everything():
    assert from_map(None) is Selector.nothing()
    assert from_map({}) is Selector.everything()


FROM_MAP = [
    P({"app": "web"}, "app=web", {"app": "web", "x": "y"}, True, id="a one-key map matches a superset"),
    P({"app": "web", "tier": "fe"}, "app=web,tier=fe", {"app": "web"}, False, id="every key of the map must match"),
    P({"tier": "fe", "app": "web"}, "app=web,tier=fe", {"app": "web", "tier": "fe"}, True,
      id="map order does not matter"),
    P({"app": ""}, "app=", {"app": ""}, True, id="an empty map value matches the empty label value"),
]


@pytest.mark.parametrize("m,canonical,labels,expected", FROM_MAP)
def test_from_map(m, canonical, labels, expected):
    sel = from_map(m)
    assert str(sel) == canonical
    assert sel.matches(labels) is expected
    assert sel.equality_pairs() == sorted(m.items())


@pytest.mark.parametrize("m", [
    P({"Bad Key": "x"}, id="an invalid key in a service selector is rejected"),
    P({"a": "x y"}, id="an invalid value in a service selector is rejected"),
    P({"a": 1}, id="a non-string value in a service selector is rejected"),
    P(["a=b"], id="a list is not a selector map"),
])
def test_from_map_validates(m):
    with pytest.raises(SelectorError):
        from_map(m)


def test_from_map_without_validation_trusts_the_map():
    assert str(from_map({"Bad Key": "x"}, validate=False)) == "Bad Key=x"


# ============================================================================================
# ConvertSelectorToLabelsMap (TestLabelSelectorParse)
# ============================================================================================

LABELS_MAP_VALID = [
    P("", {}, id="the empty string is no labels"),
    P("x=a", {"x": "a"}, id="one pair"),
    P("x=a,y=b,z=c", {"x": "a", "y": "b", "z": "c"}, id="three pairs"),
    P(" x = a , y = b , z = c ", {"x": "a", "y": "b", "z": "c"}, id="spaces around keys and values are trimmed"),
    P("color=green,env=test,service=front", {"color": "green", "env": "test", "service": "front"},
      id="several realistic labels"),
    P("color=green, env=test, service=front", {"color": "green", "env": "test", "service": "front"},
      id="a space after each comma is allowed"),
    P("x=", {"x": ""}, id="an empty value is allowed"),
    P("x=a,x=b", {"x": "b"}, id="a repeated key keeps the last value"),
    P("example.com/tier=fe", {"example.com/tier": "fe"}, id="a prefixed key is allowed"),
]


@pytest.mark.parametrize("text,expected", LABELS_MAP_VALID)
def test_parse_labels_map(text, expected):
    assert parse_labels_map(text) == expected


LABELS_MAP_INVALID = [
    P(",", id="a lone comma is rejected"),
    P("x", id="a bare key is rejected"),
    P("x,y", id="two bare keys are rejected"),
    P("x=$y", id="an invalid value is rejected"),
    P("x!=y", id="not-equals is rejected"),
    P("x==y", id="double-equals is rejected"),
    P("x=a||y=b", id="a value containing = is rejected"),
    P("x in (y)", id="an in set is rejected"),
    P("x notin (y)", id="a notin set is rejected"),
    P("x y", id="two words are rejected"),
    P("x=a,", id="a trailing comma is rejected"),
    P("=a", id="an empty key is rejected"),
    P("Bad/Key=a", id="an invalid key is rejected"),
]


@pytest.mark.parametrize("text", LABELS_MAP_INVALID)
def test_parse_labels_map_rejects(text):
    with pytest.raises(SelectorError):
        parse_labels_map(text)


# ============================================================================================
# Properties
# ============================================================================================

_name = st.from_regex(r"\A[A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?\Z")
_prefix = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,4}[a-z0-9])?(\.[a-z0-9]{1,4}){0,2}\Z")
_keys = st.one_of(
    _name,
    st.builds(lambda p, n: f"{p}/{n}", _prefix, _name),
    st.sampled_from(["in", "notin", "app", "tier", "x", "example.com/app"]),
)
_values = st.one_of(st.just(""), _name, st.sampled_from(["in", "notin", "web", "0", "42"]))
_ints = st.integers(min_value=0, max_value=2**63 - 1).map(str)
_ws = st.sampled_from(["", "", "", " ", "  ", "\t", "\n", "\r"])


@st.composite
def _requirement_text(draw) -> str:
    key = draw(_keys)
    w = lambda: draw(_ws)  # noqa: E731
    op = draw(st.sampled_from(OPERATORS))
    if op == "exists":
        return key
    if op == "!":
        return f"!{w()}{key}"
    if op in ("in", "notin"):
        vals = draw(st.lists(_values, max_size=4))
        inner = ",".join(f"{w()}{v}{w()}" for v in vals)
        sep = " " + w()  # a keyword must be separated from the key
        return f"{key}{sep}{op}{w()}({inner})"
    if op in (">", "<"):
        return f"{key}{w()}{op}{w()}{draw(_ints)}"
    return f"{key}{w()}{op}{w()}{draw(_values)}"


_selector_text = st.lists(_requirement_text(), max_size=5).flatmap(
    lambda reqs: st.lists(_ws, min_size=len(reqs) * 2, max_size=len(reqs) * 2).map(
        lambda ws: ",".join(f"{ws[2 * i]}{r}{ws[2 * i + 1]}" for i, r in enumerate(reqs))
    )
)


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
@given(_selector_text)
def test_property_parse_of_string_is_identity(text):
    sel = parse(text)
    again = parse(str(sel))
    assert again == sel
    assert str(again) == str(sel)


@settings(max_examples=400)
@given(st.text(alphabet=st.sampled_from(list("xyab01 =!(),<>in\tnot-./_$")), max_size=25))
def test_property_any_text_either_parses_and_round_trips_or_raises_selector_error(text):
    try:
        sel = parse(text)
    except SelectorError as e:
        assert str(e).startswith("invalid label selector ")
        assert "\n" not in str(e)
        return
    assert parse(str(sel)) == sel


@settings(max_examples=200)
@given(st.text(max_size=30))
def test_property_arbitrary_unicode_never_crashes(text):
    try:
        parse(text)
    except SelectorError:
        pass


_labels = st.dictionaries(
    st.sampled_from(["in", "notin", "app", "tier", "x", "example.com/app", "a", "b"]),
    st.one_of(_values, _ints, st.sampled_from(["-3", "+7", "v2"])),
    max_size=5,
)


def _oracle(req: Requirement, labels: dict[str, str]) -> bool:
    """Section 1.3, written out plainly."""
    present = req.key in labels
    value = labels.get(req.key)
    if req.op in ("=", "==", "in"):
        return present and value in req.values
    if req.op in ("!=", "notin"):
        return not present or value not in req.values
    if req.op == "exists":
        return present
    if req.op == "!":
        return not present
    if req.op in (">", "<"):
        if not present:
            return False
        try:
            lv = int(value)
        except ValueError:
            return False
        if not value.lstrip("+-").isdigit() or not value.isascii() or not -(2**63) <= lv < 2**63:
            return False
        (rv,) = req.values
        return lv > int(rv) if req.op == ">" else lv < int(rv)
    return False


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
@given(_selector_text, _labels)
def test_property_compiled_matching_agrees_with_the_plain_rules(text, labels):
    sel = parse(text)
    expected = all(_oracle(r, labels) for r in sel.requirements)
    assert sel.matches(labels) is expected
    assert all(r.matches(labels) for r in sel.requirements) is expected


@settings(max_examples=100)
@given(st.dictionaries(_keys, _values, max_size=5))
def test_property_from_map_matches_exactly_its_own_labels(m):
    sel = from_map(m)
    assert sel.matches(m)
    assert sel == parse(",".join(f"{k}={v}" for k, v in m.items()))
    for k in m:
        assert not sel.matches({kk: vv for kk, vv in m.items() if kk != k})


@settings(max_examples=100)
@given(st.dictionaries(_keys, _values, max_size=5))
def test_property_labels_map_round_trip(m):
    text = ",".join(f"{k}={v}" for k, v in m.items())
    assert parse_labels_map(text) == m


# ============================================================================================
# Speed
# ============================================================================================

@pytest.mark.parametrize("text", [
    P("app=web", id="one equality requirement matches at least 500k label maps per second"),
    P("app=web,tier!=frontend", id="two requirements match at least 500k label maps per second"),
])
def test_matching_is_fast(text):
    pods = [{"app": ("web", "db", "cache")[i % 3], "tier": ("frontend", "backend")[i % 2],
             "pod-template-hash": f"{i:08x}"} for i in range(10_000)]
    sel = parse(text)
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for p in pods:
            sel.matches(p)
        best = max(best, len(pods) / (time.perf_counter() - start))
    assert best >= 500_000, f"{best:,.0f} matches/s"
