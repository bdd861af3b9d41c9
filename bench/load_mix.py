"""What the crowd of bench/load.py asks for: 70% reads by id and lists, 20% lead-score reads, 10% real writes,
each from a random agency and one of its API keys (a user population spread over agencies and keys)."""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from urllib.parse import quote

# kind -> share of all requests
MIX = {"contact": 0.25, "company": 0.15, "deal": 0.15, "contact list": 0.15,
       "lead score": 0.20,
       "note (POST)": 0.04, "activity (POST)": 0.03, "contact (PATCH)": 0.03}
ACTIVITY_TYPES = ("call", "meeting", "email_sent", "web_visit")


def http_request(method: str, path: str, key: str | None, body: dict | None = None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if key:
        head += f"Authorization: Bearer {key}\r\n"
    payload = b""
    if body is not None:
        payload = json.dumps(body).encode()
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    return (head + "\r\n").encode() + payload


@dataclass(frozen=True)
class AgencyIds:
    keys: tuple[str, ...]
    contacts: tuple[str, ...]
    companies: tuple[str, ...]
    deals: tuple[str, ...]
    cursors: tuple[str | None, ...]

    @classmethod
    def of(cls, agency) -> AgencyIds:
        return cls(tuple(agency.keys), tuple(agency.contacts), tuple(agency.companies), tuple(agency.deals),
                   tuple(agency.cursors))


@dataclass(frozen=True)
class CrowdMix:
    """A picklable request factory for bench/open_loop.py: `mix(rng) -> (kind, request bytes)`."""
    agencies: tuple[AgencyIds, ...]
    mix: tuple[tuple[str, float], ...] = tuple(MIX.items())

    def __call__(self, rng: random.Random) -> tuple[str, bytes]:
        kind = rng.choices([k for k, _ in self.mix], [w for _, w in self.mix])[0]
        a = rng.choice(self.agencies)
        key = rng.choice(a.keys)
        return kind, self.build(kind, a, key, rng)

    @staticmethod
    def build(kind: str, a: AgencyIds, key: str, rng: random.Random) -> bytes:
        contact = rng.choice(a.contacts)
        match kind:
            case "contact":
                return http_request("GET", f"/api/v1/contacts/{contact}", key)
            case "company":
                return http_request("GET", f"/api/v1/companies/{rng.choice(a.companies)}", key)
            case "deal":
                return http_request("GET", f"/api/v1/deals/{rng.choice(a.deals)}", key)
            case "contact list":
                return http_request("GET", list_path(rng.choice(a.cursors)), key)
            case "lead score":
                return http_request("GET", f"/api/v1/scores/leads/{contact}", key)
            case "note (POST)":
                return http_request("POST", "/api/v1/notes", key, {
                    "body": f"Call notes: asked about pricing for {rng.randint(5, 50)} seats.", "contact_id": contact})
            case "activity (POST)":
                return http_request("POST", "/api/v1/activities", key, {
                    "type": rng.choice(ACTIVITY_TYPES), "contact_id": contact,
                    "occurred_at": dt.datetime.now(dt.UTC).isoformat(), "subject": "Follow-up"})
            case "contact (PATCH)":
                return http_request("PATCH", f"/api/v1/contacts/{contact}", key,
                                    {"title": rng.choice(("CMO", "Marketing Manager", "Head of Growth"))})
        raise ValueError(f"unknown request kind {kind!r}")


def list_path(cursor: str | None) -> str:
    return "/api/v1/contacts?limit=50" + (f"&cursor={quote(cursor, safe='')}" if cursor else "")
