"""Generate the live form of the feature marts from the dbt project: `dbt compile` with `live: true`.

The result is cached beside dbt's manifest, in dbt/target/live_sql/<digest>/, where the digest covers every
file of the dbt project and the database the SQL names; change a model and the next call compiles again
(~15 s), so the serving SQL is never a hand-kept copy. Parallel processes compile once: a file lock guards the compile
and files are moved into place atomically.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from crm.live_features import MARTS, FeatureQueries
from pipelines.lib.dbt_cli import run_dbt
from pipelines.lib.dbt_env import DBT_PROJECT_DIR, postgres_parts

SOURCE_SUFFIXES = (".sql", ".yml", ".yaml")


def project_digest() -> str:
    """Hash of the dbt project's sources and the database they are compiled for."""
    h = hashlib.sha256()
    for path in sorted(DBT_PROJECT_DIR.rglob("*")):
        relative = path.relative_to(DBT_PROJECT_DIR)
        if relative.parts[0] in ("target", "logs") or path.suffix not in SOURCE_SUFFIXES or not path.is_file():
            continue
        h.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(postgres_parts()["CRM_PG_DATABASE"].encode())
    return h.hexdigest()[:16]


def _load(folder: Path, digest: str) -> FeatureQueries | None:
    files = {kind: folder / f"{mart}.sql" for kind, mart in MARTS.items()}
    if not all(f.exists() for f in files.values()):
        return None
    return FeatureQueries(**{kind: f.read_text() for kind, f in files.items()}, digest=digest)


def _compile(folder: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="crm-live-sql-") as tmp:
        proc = run_dbt(["compile", "--select", " ".join(MARTS.values()), "--quiet"], target="postgres",
                       vars={"live": True}, target_path=Path(tmp))
        if proc.returncode != 0:
            raise RuntimeError(f"dbt compile of the live feature SQL failed:\n{proc.stdout[-4000:]}\n"
                               f"{proc.stderr[-2000:]}")
        compiled = Path(tmp) / "compiled" / "crm" / "models" / "marts"
        staged = Path(tempfile.mkdtemp(prefix=".staged-", dir=folder.parent))
        for mart in MARTS.values():
            shutil.copyfile(compiled / f"{mart}.sql", staged / f"{mart}.sql")
        os.replace(staged, folder)


def feature_queries() -> FeatureQueries:
    """The live feature SQL for the current dbt project (compiled on first use, then read from the cache)."""
    digest = project_digest()
    root = DBT_PROJECT_DIR / "target" / "live_sql"
    folder = root / digest
    if (found := _load(folder, digest)) is not None:
        return found
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (found := _load(folder, digest)) is None:
            _compile(folder)
            found = _load(folder, digest)
    assert found is not None
    return found
