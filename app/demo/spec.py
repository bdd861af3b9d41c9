"""What to generate (DemoSpec, the named sizes) and what a load hands back (DemoResult)."""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path


@dataclass(frozen=True)
class DemoSpec:
    """The shape of a demo data set. `contacts` is the total over all tenants."""

    tenants: int
    contacts: int
    months: int = 24
    activity_scale: float = 1.0
    name: str = "custom"

    @property
    def tag(self) -> str:
        """Short id of this shape; it goes into demo emails and seeds, so shapes never collide."""
        if self.name in SIZES and SIZES[self.name] == self:
            return self.name[0]
        return f"x{zlib.crc32(repr(self).encode()) % 100000}"


SIZES: dict[str, DemoSpec] = {
    "tiny": DemoSpec(tenants=2, contacts=200, name="tiny"),  # seconds to load: tests and quick tries
    "small": DemoSpec(tenants=3, contacts=2_000, name="small"),
    "medium": DemoSpec(tenants=20, contacts=20_000, name="medium"),
    "large": DemoSpec(tenants=200, contacts=100_000, name="large"),
}

DEMO_PASSWORD = "demo-password"  # every demo login; the demo is meant for 127.0.0.1


@dataclass
class DemoTenant:
    tenant_id: str
    name: str
    slug: str
    churn_mode: str
    admin_email: str
    admin_password: str
    api_key: str
    users: list[dict] = field(default_factory=list)  # [{"email", "password", "role", "name"}]
    rows: dict[str, int] = field(default_factory=dict)
    skipped: bool = False  # True: it already existed in this CRM_HOME and was left as it was
    load_seconds: float = 0.0  # time in the database transaction that loaded the rows


@dataclass
class DemoResult:
    size: str
    seed: int
    end_date: date
    tenants: list[DemoTenant]
    credentials_path: Path
    ground_truth_dir: Path
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(sum(t.rows.values()) for t in self.tenants)

    def to_json(self) -> dict:
        return {"size": self.size, "seed": self.seed, "end_date": self.end_date.isoformat(),
                "tenants": [asdict(t) for t in self.tenants]}
