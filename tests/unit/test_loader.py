"""Loading: inputs, multi-document files, List expansion, and positions of every problem."""

from __future__ import annotations

import io
import sys

import pytest

from gitkube.manifest.loader import load_paths

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return str(p)


def test_directories_are_walked_recursively_for_yaml_yml_and_json_only(tmp_path):
    write(tmp_path, "a.yaml", POD.format(name="a"))
    write(tmp_path, "sub/b.yml", POD.format(name="b"))
    write(tmp_path, "sub/deeper/c.json", '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}')
    write(tmp_path, "notes.txt", "not: a manifest")
    write(tmp_path, ".hidden/d.yaml", POD.format(name="d"))
    result = load_paths([str(tmp_path)])
    assert sorted(m.name for m in result.manifests) == ["a", "b", "c"]
    assert result.diagnostics == []


def test_multi_document_files_skip_empty_documents(tmp_path):
    f = write(tmp_path, "m.yaml", "---\n" + POD.format(name="a") + "---\n---\n# only a comment\n---\n" + POD.format(name="b"))
    result = load_paths([f])
    assert [m.name for m in result.manifests] == ["a", "b"]
    assert [m.doc_index for m in result.manifests] == [0, 3]
    assert result.manifests[1].locate(("metadata", "name")) == (17, 3)


def test_a_kind_list_is_expanded_into_its_items_with_positions(tmp_path):
    text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: one\n" \
           "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: two\n"
    result = load_paths([write(tmp_path, "l.yaml", text)])
    assert [m.name for m in result.manifests] == ["one", "two"]
    assert result.manifests[1].locate(("metadata", "name")) == (11, 5)


def test_stdin_is_read_with_a_dash(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(POD.format(name="from-stdin")))
    result = load_paths(["-"])
    assert result.manifests[0].name == "from-stdin"
    assert result.manifests[0].source.name == "<stdin>"


@pytest.mark.parametrize("text, rule, line, col", [
    ("a: [1\nb: 2\n", "yaml-syntax", 2, 2),
    ("apiVersion: v1\nkind: Pod\n  bad: indent\n", "yaml-syntax", 3, 6),
    ("- just\n- a list\n", "not-a-mapping", 1, 1),
    ("just a string\n", "not-a-mapping", 1, 1),
    ("a: 1\nb: 2\na: 3\n", "duplicate-key", 3, 1),
], ids=["an unclosed flow sequence is a syntax error",
        "bad indentation is a syntax error at its line",
        "a sequence document is not a manifest",
        "a scalar document is not a manifest",
        "a duplicate key is reported at its second line"])
def test_load_errors_point_at_file_line_and_column(tmp_path, text, rule, line, col):
    f = write(tmp_path, "bad.yaml", text)
    result = load_paths([f])
    d = result.diagnostics[0]
    assert (d.rule, d.line, d.column, d.file) == (rule, line, col, f)


def test_duplicate_keys_report_both_lines_and_every_duplicate(tmp_path):
    text = ("apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: x\n  name: y\nspec:\n  selector:\n"
            "    matchExpressions: []\n    matchExpressions: []\n")
    result = load_paths([write(tmp_path, "d.yaml", text)])
    dups = [(d.line, d.message) for d in result.diagnostics if d.rule == "duplicate-key"]
    assert dups == [(5, 'mapping key "name" already defined at line 4'),
                    (9, 'mapping key "matchExpressions" already defined at line 8')]


def test_a_missing_path_is_an_error_naming_it(tmp_path):
    result = load_paths([str(tmp_path / "nope.yaml")])
    assert result.diagnostics[0].rule == "file-not-found"


def test_timestamps_stay_strings_as_kubernetes_reads_them(tmp_path):
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: t\ndata:\n  day: 2024-01-01\n"
    result = load_paths([write(tmp_path, "t.yaml", text)])
    assert result.manifests[0].obj["data"]["day"] == "2024-01-01"


def test_positions_of_nested_fields_are_found_lazily(tmp_path):
    f = write(tmp_path, "p.yaml", POD.format(name="p"))
    m = load_paths([f]).manifests[0]
    assert m.source._positions is None  # the fast path kept no positions
    assert m.locate(("spec", "containers", 0, "image")) == (8, 5)
    assert m.locate(("spec", "containers", 0, "image"), at_key=False) == (8, 12)
    assert m.locate(("spec", "nothing", "here")) == (5, 1)  # nearest existing ancestor
