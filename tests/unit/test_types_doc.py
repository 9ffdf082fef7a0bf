"""docs/types.md shows, for every tested case, the Arrow type the capture tests assert."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.type_cases import CSV, JSON_FILES, MARIADB, MONGODB, POSTGRES, REST, SQLITE, Case

DOC = Path(__file__).resolve().parents[2] / "docs" / "types.md"
SECTIONS = {
    "PostgreSQL": POSTGRES,
    "MySQL / MariaDB": MARIADB,
    "SQLite": SQLITE,
    "MongoDB": MONGODB,
    "JSON / REST APIs": REST,
    "CSV files": CSV,
    "JSON files": JSON_FILES,
}


def _tables() -> dict[str, dict[str, str]]:
    """Per `## ` section: source type (first cell) -> Arrow type (third cell)."""
    found: dict[str, dict[str, str]] = {}
    section = ""
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`") and cells[2].startswith("`"):
            found.setdefault(section, {})[cells[0].strip("`")] = cells[2].strip("`")
    return found


@pytest.mark.parametrize("section", list(SECTIONS))
def test_every_case_is_documented_with_its_arrow_type(section: str) -> None:
    documented = _tables().get(section, {})
    cases: list[Case] = SECTIONS[section]
    missing = [c.declared for c in cases if c.declared not in documented]
    wrong = [
        f"{c.declared}: doc says {documented[c.declared]}, tests assert {c.arrow}"
        for c in cases
        if c.declared in documented and documented[c.declared] != c.arrow
    ]
    extra = sorted(set(documented) - {c.declared for c in cases})
    assert (missing, wrong, extra) == ([], [], [])


def test_the_readme_points_at_the_type_mapping() -> None:
    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    assert re.search(r"\(docs/types\.md\)", readme)
