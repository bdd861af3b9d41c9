"""VADER sentiment: scores have the right sign, only new or changed texts are scored, deleted texts
lose their score, and scoring one tenant never touches another."""

from sqlalchemy import text

from crm.db.engine import tenant_session
from serving.sentiment import score_tenant, score_text
from tests.pipelines.factory import at, insert


def test_score_text_sign():
    assert score_text("Great call, they love the proposal and want to sign") > 0.5
    assert score_text("They are angry, the service is terrible and they want to cancel") < -0.5
    assert score_text("") == 0.0


def _seed(tenant_id):
    with tenant_session(tenant_id) as s:
        contact = insert(s, "contacts", email="s@sent.example", first_name="Sam")
        note = insert(s, "notes", body="Lovely chat, very happy with results", contact_id=contact,
                      occurred_at=at("2025-05-01 10:00"))
        insert(s, "activities", type="call", occurred_at=at("2025-05-02 10:00"), contact_id=contact,
               body="Frustrated about the invoice errors")
        insert(s, "activities", type="email_sent", occurred_at=at("2025-05-02 11:00"), contact_id=contact,
               body="Newsletter: ten tips")  # bulk mail: not a conversation, not scored
    return contact, note


def test_only_new_or_changed_texts_are_scored(tenant, other_tenant):
    t = tenant["tenant_id"]
    contact, note = _seed(t)
    _seed(other_tenant["tenant_id"])
    assert score_tenant(t) == (2, 0)
    assert score_tenant(t) == (0, 0)
    with tenant_session(t) as s:
        rows = dict(s.execute(text("select source_type, compound from text_sentiment")).all())
        assert rows["note"] > 0 and rows["activity"] < 0
        s.execute(text("update notes set body = 'Awful, they hate it' where id = :i"), {"i": note})
    assert score_tenant(t) == (1, 0)
    with tenant_session(t) as s:
        assert s.execute(text("select compound from text_sentiment where source_id = :i"),
                         {"i": note}).scalar_one() < 0
        s.execute(text("delete from notes where id = :i"), {"i": note})
    assert score_tenant(t) == (0, 1)
    with tenant_session(other_tenant["tenant_id"]) as s:  # scoring tenant A wrote nothing for tenant B
        assert s.execute(text("select count(*) from text_sentiment")).scalar_one() == 0
    with tenant_session(t) as s:
        row = s.execute(text("select contact_id::text, occurred_at from text_sentiment")).one()
    assert row.contact_id == contact and row.occurred_at == at("2025-05-02 10:00")
