"""Comparing a pipeline's rows with the oracle's: typed as the spec says, as multisets."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest

from tests.support.oracle.chinook import COLUMNS, KEYS


def _normalise_value(table: str, column: str, kind: str, value: Any) -> Any:
    if value is None:
        return None
    problem = f"{table}.{column}: cannot read {value!r} as {kind}"
    if kind == "dec":
        if isinstance(value, bool):
            raise AssertionError(problem)
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise AssertionError(problem) from None
    if kind == "int":
        if isinstance(value, bool):
            raise AssertionError(problem)
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise AssertionError(problem) from None
        if number != number.to_integral_value():
            raise AssertionError(problem)
        return int(number)
    if kind == "bool":
        if not isinstance(value, bool):
            raise AssertionError(problem)
        return value
    return value  # text: compared as it is


def normalise(table: str, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        tuple(
            _normalise_value(table, column, kind, row.get(column))
            for column, kind in COLUMNS[table]
        )
        for row in rows
    ]


def _sort_key(row: tuple[Any, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((v is None, f"{v:>20}" if isinstance(v, int | Decimal) else str(v)) for v in row)


def assert_same_rows(
    table: str, expected: list[tuple[Any, ...]], got: list[tuple[Any, ...]]
) -> None:
    """Equal as multisets, or fail showing the first differences column by column."""
    want, have = Counter(expected), Counter(got)
    if want == have:
        return
    names = [column for column, _ in COLUMNS[table]]
    missing = sorted((want - have).elements(), key=_sort_key)
    extra = sorted((have - want).elements(), key=_sort_key)
    report = [
        f"{table}: the oracle has {len(expected)} rows, the pipeline {len(got)}; "
        f"{len(missing)} expected rows are missing and {len(extra)} rows are unexpected."
    ]
    key_at = [names.index(k) for k in KEYS[table]]

    def key(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(row[i] for i in key_at)

    missing_by_key = {key(r): r for r in missing}
    extra_by_key = {key(r): r for r in extra}
    both = [k for k in missing_by_key if k in extra_by_key]
    if both:
        report.append(f"Rows whose key {KEYS[table]} exists on both sides but differs:")
    for k in both[:10]:
        want_row, have_row = missing_by_key[k], extra_by_key[k]
        diffs = [
            f"{name}: expected {w!r}, got {h!r}"
            for name, w, h in zip(names, want_row, have_row, strict=True)
            if w != h
        ]
        report.append(f"  {dict(zip(KEYS[table], k, strict=True))}: " + "; ".join(diffs))
    only_missing = [r for r in missing if key(r) not in extra_by_key]
    only_extra = [r for r in extra if key(r) not in missing_by_key]
    for label, rows in (("missing from the pipeline", only_missing), ("unexpected", only_extra)):
        if rows:
            report.append(f"Rows {label} ({len(rows)}), first ones:")
            report.extend(f"  {dict(zip(names, r, strict=True))}" for r in rows[:10])
    pytest.fail("\n".join(report), pytrace=False)
