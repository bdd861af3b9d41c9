"""Jinja2 environment: one `render()` for every page, and the filters templates format numbers with."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates

from crm.setup_status import read_setup_status
from dashboards.security import csrf_token

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
_STATIC_VERSION = str(int(max(p.stat().st_mtime for p in (Path(__file__).parent / "static").iterdir())))


def money(value: float | Decimal | None, currency: str = "USD", compact: bool = True) -> str:
    """$12k in tables and tiles; `compact=False` keeps every unit ($1,240) where one amount stands alone."""
    if value is None:
        return "—"
    v = float(value)
    sign = "-" if v < 0 else ""
    v = abs(v)
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency, "")
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")) if compact else ():
        if v >= limit:
            return f"{sign}{symbol}{v / limit:.1f}{suffix}".replace(".0" + suffix, suffix)
    return f"{sign}{symbol}{v:,.0f}" + ("" if symbol else f" {currency}")


def number(value: float | int | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def pct(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def day(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%d %b %Y")


def shortday(value: date | datetime | None) -> str:
    return "—" if value is None else value.strftime("%d %b %y")


def ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = (datetime.now(UTC) - value).total_seconds()
    if seconds < 0:  # clocks differ a little, and demo data runs to the end of today
        return "today" if seconds > -86400 else "in " + day(value)
    for unit, size in (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400), ("day", 86400),
                       ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "just now"


def full_name(contact) -> str:
    """A contact's display name from an ORM row or a dict-like query row."""
    get = contact.get if hasattr(contact, "get") else lambda k: getattr(contact, k, None)
    name = f"{get('first_name') or ''} {get('last_name') or ''}".strip()
    return name or get("email") or ""


templates.env.filters.update(shortday=shortday, money=money, number=number, pct=pct, day=day, ago=ago,
                             full_name=full_name)
templates.env.globals["static_version"] = _STATIC_VERSION


def render(request: Request, name: str, context: dict | None = None, status_code: int = 200):
    principal = getattr(request.state, "principal", None)
    ctx = {
        "user": principal,
        "tenant_name": request.session.get("tname", ""),
        "csrf": csrf_token(request.session),
        "path": request.url.path,
        "setup": read_setup_status(),  # `crm demo` still setting up: the base template says so
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
