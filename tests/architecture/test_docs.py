"""docs/architecture.md matches the tree: every path it names exists, and every package of app/ is named."""

from __future__ import annotations

import re

from tests.architecture.test_floors import FLOORS, ROOT

DOC = ROOT / "docs" / "architecture.md"
# A repository path in the text: starts at one of our top-level folders, ends in a file name or a slash.
PATH = re.compile(r"\b((?:app|webhooks|workflows|activities|tests|docs)/[A-Za-z0-9_./*]*)")


def named_paths() -> set[str]:
    """Every repository path the page names (globs and trailing punctuation trimmed)."""
    found = set()
    for match in PATH.findall(DOC.read_text()):
        path = match.rstrip(".").split("*")[0].rstrip("/")
        if path:
            found.add(path)
    return found


def test_every_path_named_exists() -> None:
    missing = sorted(path for path in named_paths() if not (ROOT / path).exists())
    assert missing == [], f"docs/architecture.md names paths that do not exist: {missing}"


def test_every_package_of_app_is_named() -> None:
    named = named_paths()
    packages = sorted(str(init.parent.relative_to(ROOT)) for init in (ROOT / "app").glob("*/__init__.py"))
    unnamed = [package for package in packages if package not in named]
    assert unnamed == [], f"docs/architecture.md does not place these packages on a floor: {unnamed}"


def test_every_floor_prefix_is_a_real_module() -> None:
    for prefixes in FLOORS:
        for prefix in prefixes:
            path = ROOT / prefix.replace(".", "/")
            assert path.is_dir() or path.with_suffix(".py").is_file(), f"FLOORS names {prefix}, which does not exist"
