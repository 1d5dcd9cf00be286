"""Issue #21.9: the project explains itself. The README and docs/ link only to files a
clone has; the architecture and operations pages exist and are linked from the README."""

import re

from tests.conftest import BASE_DIR

LINK = re.compile(r"\]\(([^)#\s]+)[^)]*\)")
MENTION = re.compile(r"`(\.\./[^`]+)`")


def _documents():
    return [BASE_DIR / "README.md", *sorted((BASE_DIR / "docs").glob("*.md"))]


def test_readme_links_the_projects_own_docs():
    readme = (BASE_DIR / "README.md").read_text()
    for page in ("docs/architecture.md", "docs/operations.md"):
        assert f"]({page})" in readme
        assert (BASE_DIR / page).stat().st_size > 1000


def test_every_relative_link_resolves_inside_the_repository():
    for document in _documents():
        text = document.read_text()
        assert not MENTION.findall(text), f"{document.name} points outside the repository"
        for target in LINK.findall(text):
            if "://" in target or target.startswith("mailto:"):
                continue
            path = (document.parent / target).resolve()
            assert path.is_relative_to(BASE_DIR), f"{document.name}: {target} leaves the repo"
            assert path.exists(), f"{document.name}: {target} does not exist"


def test_architecture_page_carries_the_domain_rules():
    text = " ".join((BASE_DIR / "docs" / "architecture.md").read_text().split())
    for rule in ("minor units", "never edited or deleted", "capacity", "pending → paid",
                 "services.py", "selectors.py", "409"):
        assert rule in text, rule
