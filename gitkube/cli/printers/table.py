"""kubectl's table output: Go's text/tabwriter, and the columns `get` adds around a kind's own.

kubectl writes each row as tab-terminated cells into `tabwriter.NewWriter(out, 6, 4, 3, ' ', 0)`:
every cell but a line's last is padded to its column's width (the widest cell + 3, at least 6);
a column spans the consecutive lines that have a cell in it (cli-runtime `printers/tabwriter.go`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from gitkube.cli.printers.columns import COLUMNS
from gitkube.cli.printers.format import format_labels, label_header
from gitkube.kinds import BY_KIND


def tabwrite(lines: Sequence[Sequence[str]], minwidth: int = 6, padding: int = 3) -> str:
    """Lay out lines of cells like Go's tabwriter (left-aligned, space padding). Each line's last
    cell is the text after its last tab and belongs to no column."""
    widths: list[int] = []
    out: list[str] = []

    def write_lines(start: int, end: int) -> None:
        for line in lines[start:end]:
            last = len(line) - 1
            out.append("".join(cell if j == last else cell.ljust(widths[j]) for j, cell in enumerate(line)))

    def block(start: int, end: int) -> None:
        column = len(widths)
        this = start
        while this < end:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(start, this)
            start = this
            width = minwidth
            while this < end and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            block(start, this)
            widths.pop()
            start = this
        write_lines(start, end)

    block(0, len(lines))
    return "".join(line + "\n" for line in out)


@dataclass(frozen=True)
class TableOptions:
    """The `get` flags that shape a table."""

    wide: bool = False
    with_namespace: bool = False  # -A: a leading NAMESPACE column (namespaced kinds only)
    with_kind: bool = False  # several kinds: NAME shows `pod/web`
    label_columns: tuple[str, ...] = ()  # -L
    show_labels: bool = False  # --show-labels
    no_headers: bool = False


def table_lines(kind: str, objs: Sequence[Mapping[str, Any]], opts: TableOptions, now: float) -> list[list[str]]:
    """Header (unless --no-headers) and one row per object: [NAMESPACE] kind columns [-L…] [LABELS]."""
    info = BY_KIND[kind]
    cols = COLUMNS[kind]
    namespace = opts.with_namespace and info.namespaced
    lines: list[list[str]] = []
    if not opts.no_headers:
        header = (["NAMESPACE"] if namespace else []) + list(cols.headers)
        header += list(cols.wide_headers) if opts.wide else []
        header += [label_header(k) for k in opts.label_columns]
        lines.append(header + (["LABELS"] if opts.show_labels else []))
    for obj in objs:
        md = obj.get("metadata") or {}
        labels = md.get("labels") or {}
        cells = cols.cells(obj, now, opts.wide)
        if opts.with_kind:
            cells[0] = f"{info.resource_name}/{cells[0]}"
        row = ([md.get("namespace", "")] if namespace else []) + cells
        row += [labels.get(k, "") for k in opts.label_columns]
        lines.append(row + ([format_labels(labels)] if opts.show_labels else []))
    return lines
