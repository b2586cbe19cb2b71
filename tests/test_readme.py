"""The README stays short and its links into docs/ lead somewhere (the docs pages' own links
are checked by `mkdocs build --strict`, which `make test` runs)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def slug(heading: str) -> str:
    """The anchor GitHub and MkDocs give a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_the_readme_is_short():
    assert len(README.splitlines()) <= 200


def test_the_readme_links_into_the_docs_resolve():
    links = re.findall(r"\]\(([^)#\s]+\.md)(?:#([^)\s]+))?\)", README)
    assert len(links) >= 10
    for target, anchor in links:
        page = ROOT / target
        assert page.is_file(), target
        if anchor:
            headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.M)
            assert anchor in {slug(heading) for heading in headings}, f"{target}#{anchor}"
