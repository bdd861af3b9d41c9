"""What an import reports back: counts and, when it fails, every bad row with its line and column."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class RowError:
    row: int | None          # line number in the file (the header is line 1)
    column: str | None       # the file's own column header
    reason: str


@dataclass
class ImportReport:
    entity: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)     # file header -> field it was read into
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        out = asdict(self)
        out["ok"] = self.ok
        return out
