"""Landing folder: CSV / JSONL activity files dropped in `$CRM_HOME/landing/<tenant_id>/`.

Each file is validated row by row; good rows become `activities` in PostgreSQL through the activities
service (crm.services.activities; the app role with that tenant set, so RLS applies), bad rows go to
`landing_quarantine` with the reason. The file's sha256 is recorded in `landing_files` in the same
transaction, so a file seen twice (even renamed) is loaded once, and a crash mid-file loads nothing.
`(tenant_id, source, external_id)` is unique, so the same event arriving in two different files is not
duplicated either.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.ids import InvalidId, parse_uuid
from crm.services import activities
from crm.services.actor import Actor, set_actor
from crm.settings import get_settings

SUFFIXES = (".csv", ".jsonl")


@dataclass(frozen=True)
class LandingFile:
    tenant_id: str
    path: Path
    sha256: str


@dataclass
class LoadResult:
    file: str
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    already_loaded: bool = False
    reasons: dict[str, int] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tenant_dirs(landing_dir: Path) -> list[tuple[str, Path]]:
    out = []
    for d in sorted(p for p in landing_dir.iterdir() if p.is_dir()) if landing_dir.exists() else []:
        try:
            out.append((str(parse_uuid(d.name)), d))
        except InvalidId:
            continue  # _quarantine and other folders that are not a tenant id
    return out


def pending_files(landing_dir: Path | None = None) -> list[LandingFile]:
    """Files not yet in the registry, oldest first; cheap enough for a sensor tick."""
    landing_dir = landing_dir or get_settings().landing_dir
    pending: list[LandingFile] = []
    for tenant_id, folder in _tenant_dirs(landing_dir):
        files = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix in SUFFIXES),
                       key=lambda p: (p.stat().st_mtime, p.name))
        if not files:
            continue
        hashed = [LandingFile(tenant_id, p, _sha256(p)) for p in files]
        with tenant_session(tenant_id) as s:
            if s.execute(text("select 1 from tenants where id = app_tenant_id()")).first() is None:
                continue  # a folder named after no tenant: leave it alone
            known = {r[0] for r in s.execute(text("select file_hash from landing_files where file_hash = any(:h)"),
                                             {"h": [f.sha256 for f in hashed]})}
        pending.extend(f for f in hashed if f.sha256 not in known)
    return pending


def _read_rows(path: Path) -> list[tuple[int, str, dict | None, str | None]]:
    """(line_number, raw text, parsed row or None, parse error or None) for every data row."""
    content = path.read_bytes().decode("utf-8", errors="replace")
    rows: list[tuple[int, str, dict | None, str | None]] = []
    if path.suffix == ".jsonl":
        for n, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                rows.append((n, line, None, f"not valid JSON: {exc.msg}"))
                continue
            rows.append((n, line, obj, None) if isinstance(obj, dict) else (n, line, None, "not a JSON object"))
        return rows
    reader = csv.DictReader(io.StringIO(content))
    for row in reader:
        raw = json.dumps(row, default=str)
        if None in row:
            rows.append((reader.line_num, raw, None, "more fields than the header"))
        else:
            rows.append((reader.line_num, raw, row, None))
    return rows


def load_file(tenant_id: str, path: Path, sha256: str | None = None) -> LoadResult:
    """Load one landing file for one tenant, all-or-nothing; a file already registered is skipped."""
    sha256 = sha256 or _sha256(path)
    result = LoadResult(file=path.name)
    with tenant_session(tenant_id) as s:
        set_actor(s, Actor("pipeline", None, f"landing file {path.name}"))
        claimed = s.execute(text(
            "insert into landing_files (tenant_id, file_hash, file_name) values (app_tenant_id(), :h, :n) "
            "on conflict do nothing returning file_hash"), {"h": sha256, "n": path.name}).first()
        if claimed is None:
            result.already_loaded = True
            return result
        rows = _read_rows(path)
        parsed = [row for _, _, row, error in rows if not error]
        outcomes = iter(activities.ingest(s, parsed, default_source="landing"))
        quarantine = []
        for line, raw, _row, error in rows:
            reason = error or None
            if not error:
                outcome = next(outcomes)
                if outcome.status == "rejected":
                    reason = outcome.reason
                elif outcome.status == "accepted":
                    result.loaded += 1
                else:
                    result.duplicates += 1
            if reason:
                quarantine.append({"h": sha256, "n": path.name, "line": line, "raw": raw, "reason": reason})
                key = reason.split(" ")[0]
                result.reasons[key] = result.reasons.get(key, 0) + 1
        if quarantine:
            s.execute(text("insert into landing_quarantine (tenant_id, file_hash, file_name, line_number, raw_row, "
                           "reason) values (app_tenant_id(), :h, :n, :line, :raw, :reason)"), quarantine)
        result.quarantined = len(quarantine)
        s.execute(text("update landing_files set rows_loaded = :l, rows_duplicate = :d, rows_quarantined = :q "
                       "where file_hash = :h"),
                  {"l": result.loaded, "d": result.duplicates, "q": result.quarantined, "h": sha256})
    return result


def load_pending(landing_dir: Path | None = None) -> list[LoadResult]:
    return [load_file(f.tenant_id, f.path, f.sha256) for f in pending_files(landing_dir)]
