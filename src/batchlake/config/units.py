"""Sizes ("500MB") and durations ("30m") as written in batchlake.toml."""

from __future__ import annotations

import re

_SIZE_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def parse_size(text: str) -> int:
    """Bytes in a size such as "500MB" or "2 GB"; a ValueError names the accepted form."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*", text.upper())
    if not match or match.group(2) not in _SIZE_UNITS:
        raise ValueError(f"'{text}' is not a size; write e.g. '500MB' or '2GB'")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: str | float) -> float:
    """Seconds in `value`: a number of seconds or text such as 90s, 30m, 6h, 2d."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"'{value}' is not a duration; write e.g. 30s, 15m, 6h or 1d")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]
