"""The "Next best action" panel of a contact's or company's page: the recommendation and a link per reason."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from sqlalchemy.orm import Session

from serving.next_action import recommend

KIND_LABELS = {"rescue_account": "Rescue the account", "close_deal": "Close the deal", "follow_up": "Follow up",
               "nurture": "Nurture", "wait": "Wait"}
SOURCE_LABELS = {"score": "score", "task": "task", "note": "note", "activity": "activity", "deal": "deal",
                 "contact": "contact", "company": "company"}


def cited_url(source_type: str, source_id: str, here: str) -> str:
    """Where the cited record is shown: notes, activities and scores through /sources (their page, at the
    item); a task or deal on its own page; a contact or company on its page."""
    if source_type in ("note", "activity", "score"):
        return f"/sources/{source_type}/{source_id}"
    if source_type == "task":
        return f"/tasks/{source_id}/edit?next={quote(here, safe='')}"
    if source_type == "deal":
        return f"/deals/{source_id}/edit"
    return f"/{'contacts' if source_type == 'contact' else 'companies'}/{source_id}"


def next_action_panel(session: Session, entity_type: str, entity_id: uuid.UUID) -> dict:
    rec = recommend(session, entity_type, entity_id).to_dict()   # type: ignore[arg-type]
    here = f"/{'contacts' if entity_type == 'contact' else 'companies'}/{entity_id}"
    for reason in rec["reasons"]:
        reason["url"] = cited_url(reason["source_type"], reason["source_id"], here)
        reason["label"] = SOURCE_LABELS[reason["source_type"]]
        reason["quote"] = reason["snippet"] if reason["source_type"] in ("note", "activity") else None
    rec["kind_label"] = KIND_LABELS[rec["kind"]]
    rec["contact_url"] = f"/contacts/{rec['contact_id']}" if rec["contact_id"] and entity_type == "company" else None
    return rec
