"""The package list of setup.cfg follows the source tree (a missing entry leaves a layer out of
the installed package; a stale one makes every install fail)."""
from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_setup_cfg_lists_exactly_the_packages_of_the_tree():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    listed = {p.strip() for p in cfg["options"]["packages"].split() if p.strip()}
    mapped = dict(
        (part.strip() for part in line.split("=", 1)) for line in cfg["options"]["package_dir"].splitlines() if "=" in line
    )
    tree = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "xltools").rglob("__init__.py")}
    assert tree, "no package found under xltools/"
    assert listed - set(mapped) == tree
    for name, folder in mapped.items():  # data packages (workbook/, macros/, samples/) exist
        assert name in listed and (ROOT / folder).is_dir(), name
