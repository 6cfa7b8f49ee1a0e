"""Where every key and value of a YAML document was written, found by composing its node tree.

Composing (not constructing) keeps every key, so duplicate mapping keys are all reported with
both lines, and values are built here last-wins so later checks still run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gitkube.manifest.yaml import fast_yaml, json_key

PathT = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class DuplicateKey:
    key: str
    path: str
    line: int
    column: int
    first_line: int


@dataclass
class DocPositions:
    """Positions of one document: path -> (key line, key col, value line, value col), 1-based."""

    spots: dict[PathT, tuple[int, int, int, int]] = field(default_factory=dict)
    duplicates: list[DuplicateKey] = field(default_factory=list)

    def locate(self, path: PathT, at_key: bool = True) -> tuple[int, int]:
        for cut in range(len(path), -1, -1):
            spot = self.spots.get(path[:cut])
            if spot is not None:
                return (spot[0], spot[1]) if at_key else (spot[2], spot[3])
        return (0, 0)


def compose_documents(text: str) -> tuple[list[DocPositions | None], list[Any]]:
    """(positions, values) for every document of `text`, in order; raises on syntax errors."""
    y = fast_yaml()
    constructor = y.constructor
    positions: list[DocPositions | None] = []
    values: list[Any] = []
    for node in y.compose_all(text):
        if node is None or (isinstance(node, ScalarNode) and node.tag.endswith(":null")):
            positions.append(None)
            values.append(None)
            continue
        doc = DocPositions()
        here = (node.start_mark.line + 1, node.start_mark.column + 1)
        doc.spots[()] = here + here
        values.append(_walk(node, (), doc, constructor))
        positions.append(doc)
    return positions, values


def _walk(node: Node, path: PathT, doc: DocPositions, constructor: Any) -> Any:
    if isinstance(node, MappingNode):
        out: dict[Any, Any] = {}
        first_seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = json_key(_walk(key_node, path, DocPositions(), constructor))
            child = path + (key,)
            k_line, k_col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if key in first_seen:
                from gitkube.schema.problems import dotted

                doc.duplicates.append(DuplicateKey(str(key), dotted(child), k_line, k_col, first_seen[key]))
            else:
                first_seen[key] = k_line
            doc.spots[child] = (k_line, k_col, value_node.start_mark.line + 1, value_node.start_mark.column + 1)
            out[key] = _walk(value_node, child, doc, constructor)
        return out
    if isinstance(node, SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            child = path + (i,)
            line, col = item.start_mark.line + 1, item.start_mark.column + 1
            doc.spots[child] = (line, col, line, col)
            items.append(_walk(item, child, doc, constructor))
        return items
    return constructor.construct_object(node, deep=True)
