"""The README tells a newcomer every demo login (20.11): the table lists each account with its password."""

from __future__ import annotations

from pathlib import Path

from app import demo

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_lists_every_demo_login() -> None:
    rows = [line for line in README.splitlines() if line.startswith("| `") and "@example.com" in line]
    listed = {(cells[1].strip("` "), cells[2].strip("` "), cells[3].strip()) for cells in (r.split("|") for r in rows)}
    assert listed == {(email, password, role) for email, role, password in demo.credentials()}
