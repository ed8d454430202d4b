"""The README and docs/: every relative link reaches a file (and, with `#anchor`, a heading
there), the README stays a front page, and docs/configuration.md names every setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"```.*?```", "", page.read_text("utf-8"), flags=re.DOTALL)
    heads = re.findall(r"^#+\s+(.+?)\s*$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text("utf-8"), flags=re.DOTALL)
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]  # http:, https:, mailto: left out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.name}")
    assert broken == []


def test_the_readme_is_a_front_page() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert len(readme.splitlines()) <= 300
    for command in ('uv run quoteqa ask "What did the Kremlin say?"', "uv run pytest"):
        assert command in readme  # the set-up CI and users rely on
    assert (ROOT / ".ci" / "run").read_text("utf-8").rstrip().endswith("\nuv run pytest")


def test_configuration_names_every_setting() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text("utf-8")
    names = {"TELEGRAM_BOT_TOKEN" if f == "telegram_bot_token" else f"QUOTEQA_{f.upper()}" for f in Settings.model_fields}
    assert sorted(n for n in names if f"`{n}`" not in doc) == []
