"""Who is writing: the actor every recorded change (audit entry, record event) is attributed to.

Each write path names its actor on the session it writes through (`set_actor`), once, before the writes:
the API (a user or an API key), the dashboard (the signed-in user), the CSV import (`import`, labelled with
the file), `POST /events` (the API key that sent them), landing files (`pipeline`), workflows
(`workflow_run`). A session nobody named is the `system` (operator commands, the demo's seeding).
The actor lives on the session, not the transaction: a session reused for several transactions keeps it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

ActorType = Literal["user", "api_key", "workflow_run", "import", "pipeline", "events", "system"]
ACTOR_TYPES: tuple[str, ...] = ActorType.__args__
_ACTOR, _REQUEST = "actor", "request_id"


@dataclass(frozen=True)
class Actor:
    type: ActorType
    id: uuid.UUID | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if self.type not in ACTOR_TYPES:
            raise ValueError(f"actor type must be one of {', '.join(ACTOR_TYPES)}, not {self.type!r}")


SYSTEM = Actor("system", None, "system")


def set_actor(session: Session, actor: Actor, *, request_id: str | None = None) -> None:
    """Attribute the session's writes from now on to `actor` (and to the HTTP request `request_id`)."""
    session.info[_ACTOR] = actor
    session.info[_REQUEST] = request_id


def actor_of(session: Session) -> Actor:
    return session.info.get(_ACTOR) or SYSTEM


def request_id_of(session: Session) -> str | None:
    return session.info.get(_REQUEST)
