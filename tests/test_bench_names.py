"""`python bench/x.py` puts bench/ first on sys.path: a script named like a package of the product would
hide that package from every other bench script ("'serving' is not a package")."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_bench_script_is_named_like_a_top_level_package_or_module():
    top_level = {p.parent.name for p in ROOT.glob("*/__init__.py")} | {p.stem for p in ROOT.glob("*.py")}
    scripts = {p.stem for p in (ROOT / "bench").glob("*.py")}
    assert "crm" in top_level and scripts
    assert not scripts & top_level
