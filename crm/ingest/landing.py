"""Landing folder: CSV / JSONL activity files dropped in `$CRM_HOME/landing/<tenant_id>/`.

Each file is validated row by row; good rows become `activities` in PostgreSQL (through the app role
with that tenant set, so RLS applies), bad rows go to `landing_quarantine` with the reason. The file's
sha256 is recorded in `landing_files` in the same transaction, so a file seen twice (even renamed) is
loaded once, and a crash mid-file loads nothing. `(tenant_id, source, external_id)` is unique, so the
same event arriving in two different files is not duplicated either.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from crm.db.engine import tenant_session
from crm.settings import get_settings

ACTIVITY_TYPES = frozenset({
    "email_sent", "email_opened", "email_clicked", "email_replied", "call", "meeting", "web_visit",
    "form_submit", "order", "support_ticket",
})
KNOWN_COLUMNS = {"type", "occurred_at", "external_id", "contact_email", "contact_id", "company_id", "subject",
                 "body", "source", "properties"}
SUFFIXES = (".csv", ".jsonl")
MAX_FUTURE = timedelta(days=1)


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


class RowError(ValueError):
    pass


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
            out.append((str(uuid.UUID(d.name)), d))
        except ValueError:
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


def _clean(value: object) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _parse_time(value: str | None) -> datetime:
    if not value:
        raise RowError("occurred_at is missing")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise RowError(f"occurred_at {value!r} is not an ISO 8601 timestamp") from exc
    ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    if ts > datetime.now(UTC) + MAX_FUTURE:
        raise RowError(f"occurred_at {value!r} is in the future")
    return ts


def _validate(row: dict, contacts_by_email: dict[str, str], contact_ids: set[str]) -> dict:
    kind = _clean(row.get("type"))
    if kind not in ACTIVITY_TYPES:
        raise RowError(f"type {kind!r} is not one of {', '.join(sorted(ACTIVITY_TYPES))}")
    occurred_at = _parse_time(_clean(row.get("occurred_at")))
    external_id = _clean(row.get("external_id"))
    if not external_id:
        raise RowError("external_id is missing (needed so a resent event is not loaded twice)")
    contact_id = _clean(row.get("contact_id"))
    email = (_clean(row.get("contact_email")) or "").lower()
    if contact_id:
        if contact_id not in contact_ids:
            raise RowError(f"contact_id {contact_id} is not a contact of this tenant")
    elif email:
        contact_id = contacts_by_email.get(email)
        if contact_id is None:
            raise RowError(f"no contact with email {email!r} in this tenant")
    else:
        raise RowError("contact_id or contact_email is required")
    props = row.get("properties")
    if isinstance(props, str) and props.strip():
        try:
            props = json.loads(props)
        except json.JSONDecodeError as exc:
            raise RowError("properties is not valid JSON") from exc
    props = dict(props) if isinstance(props, dict) else {}
    props.update({k: v for k, v in row.items() if k not in KNOWN_COLUMNS and _clean(v) is not None})
    return {"type": kind, "occurred_at": occurred_at, "external_id": external_id, "contact_id": contact_id,
            "subject": _clean(row.get("subject")), "body": _clean(row.get("body")),
            "source": _clean(row.get("source")) or "landing", "properties": json.dumps(props, default=str)}


_INSERT = text("""
insert into activities (tenant_id, type, occurred_at, contact_id, company_id, subject, body, properties, source,
                        external_id)
select app_tenant_id(), :type, :occurred_at, cast(:contact_id as uuid),
       (select company_id from contacts where id = cast(:contact_id as uuid)),
       :subject, :body, cast(:properties as jsonb), :source, :external_id
on conflict (tenant_id, source, external_id) where external_id is not null do nothing
returning id
""")


def load_file(tenant_id: str, path: Path, sha256: str | None = None) -> LoadResult:
    """Load one landing file for one tenant, all-or-nothing; a file already registered is skipped."""
    sha256 = sha256 or _sha256(path)
    result = LoadResult(file=path.name)
    with tenant_session(tenant_id) as s:
        claimed = s.execute(text(
            "insert into landing_files (tenant_id, file_hash, file_name) values (app_tenant_id(), :h, :n) "
            "on conflict do nothing returning file_hash"), {"h": sha256, "n": path.name}).first()
        if claimed is None:
            result.already_loaded = True
            return result
        contacts = s.execute(text("select id::text, lower(email) from contacts")).all()
        by_email = {email: cid for cid, email in contacts}
        ids = {cid for cid, _ in contacts}
        quarantine = []
        for line, raw, row, error in _read_rows(path):
            try:
                if error:
                    raise RowError(error)
                values = _validate(row, by_email, ids)
            except RowError as exc:
                reason = str(exc)
                quarantine.append({"h": sha256, "n": path.name, "line": line, "raw": raw, "reason": reason})
                key = reason.split(" ")[0]
                result.reasons[key] = result.reasons.get(key, 0) + 1
                continue
            if s.execute(_INSERT, values).first():
                result.loaded += 1
            else:
                result.duplicates += 1
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
