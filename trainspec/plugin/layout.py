"""Tables that fit the terminal: cells wrap at spaces, headers shorten (with a legend) when the
full ones do not fit, and no value is ever cut.

Rich squeezes a too-wide table by truncating cells (``val_lo…``); :func:`fit_table` gives each
column an explicit width instead: every column at least its longest word (a value or a name is
never broken), the rest shared among the columns whose cells may wrap.  A table that cannot fit
even so becomes one block per row (``header: value`` pairs that wrap as prose).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text


@dataclass
class Column:
    """One column: its header, a shorter header and what it stands for (printed as a legend
    under the table when the short header is used), alignment, style, and whether its cells may
    wrap at spaces."""

    header: str
    short: str | None = None
    legend: str | None = None
    justify: str = "left"
    wrap: bool = False
    style: str | None = None


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _longest_word(text: str) -> int:
    return max((cell_len(word) for line in text.splitlines() for word in line.split(" ")),
               default=0)


def _longest_line(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


#: Cell padding and separators of the tables below (``box.SIMPLE_HEAVY``, no outer edge):
#: 1 space either side of a cell except at the table's edges, 1 separator between columns.
def overhead(columns: int) -> int:
    """Characters a table of ``columns`` columns spends outside its cells."""
    return max(0, 3 * columns - 3)


def _widths(columns: Sequence[Column], rows: Sequence[Sequence[Any]], headers: list[str],
            width: int) -> list[int] | None:
    full, least = [], []
    for i, column in enumerate(columns):
        cells = [_plain(row[i]) for row in rows]
        longest = max([_longest_line(c) for c in cells] + [cell_len(headers[i])])
        if column.wrap:
            minimum = max([_longest_word(c) for c in cells] + [_longest_word(headers[i])])
        else:
            minimum = longest
        full.append(longest)
        least.append(minimum)
    room = width - overhead(len(columns))
    if sum(full) <= room:
        return full
    spare = room - sum(least)
    if spare < 0:
        return None
    widths = list(least)
    slack = [full[i] - least[i] if columns[i].wrap else 0 for i in range(len(columns))]
    while spare > 0 and any(slack):
        # one character at a time to the wrapping column that is furthest from its full width
        i = max(range(len(columns)), key=lambda k: slack[k])
        widths[i] += 1
        slack[i] -= 1
        spare -= 1
    return widths


def fit_table(title: str | None, columns: Sequence[Column], rows: Sequence[Sequence[Any]],
              width: int, caption: str | None = None) -> RenderableType:
    """A table of ``rows`` that fits ``width`` columns without cutting any value.

    Example:
        >>> from rich.console import Console
        >>> table = fit_table("Sweep", [Column("point"), Column("val_accuracy", short="vacc")],
        ...                   [["0.1", "0.93"]], width=19)
        >>> console = Console(width=19, color_system=None)
        >>> with console.capture() as out:
        ...     console.print(table)
        >>> "vacc = val_accuracy" in out.get()
        True
    """
    headers = [c.header for c in columns]
    legend: list[str] = []
    widths = _widths(columns, rows, headers, width)
    natural = [max([cell_len(h)] + [_longest_line(_plain(r[i])) for r in rows])
               for i, h in enumerate(headers)]
    if (widths is None or widths != natural) and any(c.short for c in columns):
        # the full headers do not fit on one line each: the short ones, with a legend
        short = [c.short or c.header for c in columns]
        short_widths = _widths(columns, rows, short, width)
        if short_widths is not None:
            headers, widths = short, short_widths
            legend = [f"{c.short} = {c.legend or c.header}" for c in columns
                      if c.short and c.short != c.header]
    notes = "; ".join(part for part in (", ".join(legend), caption or "") if part)
    if widths is None:
        return _blocks(title, columns, rows, notes)
    table = Table(title=title, box=box.SIMPLE_HEAVY, title_justify="left", show_edge=False,
                  pad_edge=False)
    for column, header, w in zip(columns, headers, widths, strict=True):
        table.add_column(header, justify=column.justify, style=column.style, width=w,
                         no_wrap=not column.wrap, overflow="fold")
    for row in rows:
        table.add_row(*row)
    # the legend under the table, wrapping at the terminal's width rather than the table's
    return Group(table, Text(notes, style="dim")) if notes else table


def _blocks(title: str | None, columns: Sequence[Column], rows: Sequence[Sequence[Any]],
            notes: str) -> RenderableType:
    """The last resort for a very narrow terminal: one paragraph per row."""
    parts: list[RenderableType] = []
    if title:
        parts.append(Text(title, style="italic"))
    for row in rows:
        line = Text()
        for i, (column, cell) in enumerate(zip(columns, row, strict=True)):
            if i == 0:
                line.append_text(cell if isinstance(cell, Text) else Text(str(cell), style="bold"))
                line.append(":")
                continue
            line.append(f" {column.header} ", style="dim")
            line.append_text(cell if isinstance(cell, Text) else Text(str(cell)))
        parts.append(line)
    if notes:
        parts.append(Text(notes, style="dim"))
    return Group(*parts)
