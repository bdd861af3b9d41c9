"""`/api/v1/webhooks`: admins only, the secret shown once, SSRF refusals as 422 problems, the delivery log,
the test ping reaching a real receiver, and another agency's ids answering 404."""

from __future__ import annotations

import uuid

import pytest

from crm.webhooks.signing import verify
from tests.api.conftest import Api, assert_problem
from tests.webhook_receiver import deliver_until, receiver, webhook_settings  # noqa: F401 (fixture)

HOOK = "http://127.0.0.1:9/hook"


def _create(api: Api, **body) -> dict:
    r = api.post("/webhooks", {"url": HOOK, "event_types": ["deal.*"], **body})
    assert r.status_code == 201, r.text
    return r.json()


def test_create_answers_the_secret_once_and_reads_never_do(api, webhook_settings):  # noqa: F811
    created = _create(api, description="to the ops channel")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert (created["enabled"], created["consecutive_failures"], created["disabled_reason"]) == (True, 0, None)
    one = api.get(f"/webhooks/{created['id']}").json()
    listed = api.get("/webhooks").json()
    assert "secret" not in one and all("secret" not in w for w in listed["data"])
    assert created["secret"] not in api.get("/webhooks").text
    assert {k: one[k] for k in ("url", "event_types", "description")} == \
        {"url": HOOK, "event_types": ["deal.*"], "description": "to the ops channel"}
    rotated = api.post(f"/webhooks/{created['id']}/rotate-secret")
    assert rotated.status_code == 201 and rotated.json()["secret"] not in (created["secret"], None)


@pytest.mark.parametrize("url,why", [("http://127.0.0.1/", "loopback"), ("http://10.0.0.1/", "private"),
                                     ("http://169.254.169.254/latest/meta-data/", "link-local"),
                                     ("http://localhost/", "loopback"), ("file:///etc/passwd", "scheme")])
def test_refused_targets_are_422_problems_with_the_reason(api, url, why):
    body = assert_problem(api.post("/webhooks", {"url": url}), 422)
    assert why in body["detail"] and body["type"].endswith("webhook-target-refused")


def test_bad_event_types_and_update_to_a_refused_url_are_422(api, webhook_settings):  # noqa: F811
    assert "event_types" in assert_problem(api.post("/webhooks", {"url": HOOK, "event_types": ["Deal Updated"]}),
                                           422)["detail"]
    assert_problem(api.post("/webhooks", {"url": HOOK, "event_types": []}), 422)
    created = _create(api)
    webhook_settings(allow_private_targets="false")
    assert "loopback" in assert_problem(api.patch(f"/webhooks/{created['id']}", {"url": "http://[::1]:8/"}),
                                        422)["detail"]


def test_patch_pauses_and_re_enables(api, webhook_settings):  # noqa: F811
    created = _create(api)
    off = api.patch(f"/webhooks/{created['id']}", {"enabled": False}).json()
    assert off["enabled"] is False and off["disabled_reason"] == "disabled on request" and off["disabled_at"]
    on = api.patch(f"/webhooks/{created['id']}", {"enabled": True, "event_types": ["*"]}).json()
    assert (on["enabled"], on["disabled_reason"], on["disabled_at"], on["event_types"]) == (True, None, None, ["*"])


def test_ping_reaches_a_receiver_signed_and_shows_in_the_log(api, webhook_settings):  # noqa: F811
    with receiver(statuses=[500]) as hook:
        created = _create(api, url=hook.url)
        hook.secret = created["secret"]
        r = api.post(f"/webhooks/{created['id']}/test")
        assert r.status_code == 202, r.text
        delivery_id = r.json()["delivery_id"]

        def delivered() -> bool:
            return api.get(f"/webhooks/{created['id']}/deliveries").json()["data"][0]["status"] == "delivered"
        deliver_until(delivered)
    assert len(hook.received) == 2 and [g.signature_error for g in hook.received] == [None, None]
    got = hook.received[-1]
    assert verify(created["secret"], got.headers["CRM-Signature"], got.body) > 0
    assert got.json["type"] == "ping" and got.json["id"] == delivery_id
    assert got.json["data"]["webhook_id"] == created["id"]
    [logged] = api.get(f"/webhooks/{created['id']}/deliveries").json()["data"]
    assert (logged["id"], logged["attempts"], logged["last_status_code"], logged["event_type"]) == \
        (delivery_id, 2, 200, "ping")


def test_delivery_log_is_newest_first_and_paged(api, webhook_settings):  # noqa: F811
    created = _create(api)
    ids = []
    for _ in range(5):
        ids.append(api.post(f"/webhooks/{created['id']}/test").json()["delivery_id"])
    seen, cursor = [], None
    while True:
        body = api.get(f"/webhooks/{created['id']}/deliveries",
                       params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [d["id"] for d in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    assert_problem(api.get(f"/webhooks/{created['id']}/deliveries", params={"cursor": "nope"}), 400)


def test_delete_removes_the_subscription_and_its_log(api, webhook_settings):  # noqa: F811
    created = _create(api)
    api.post(f"/webhooks/{created['id']}/test")
    assert api.delete(f"/webhooks/{created['id']}").status_code == 204
    assert_problem(api.get(f"/webhooks/{created['id']}"), 404)
    assert_problem(api.get(f"/webhooks/{created['id']}/deliveries"), 404)


def test_another_agencys_webhooks_are_404_and_never_listed(api, other_api, webhook_settings):  # noqa: F811
    theirs = _create(other_api)
    other_api.post(f"/webhooks/{theirs['id']}/test")
    mine = _create(api)
    assert [w["id"] for w in api.list_all("webhooks")] == [mine["id"]]
    wid = theirs["id"]
    for response in (api.get(f"/webhooks/{wid}"), api.patch(f"/webhooks/{wid}", {"enabled": False}),
                     api.delete(f"/webhooks/{wid}"), api.post(f"/webhooks/{wid}/rotate-secret"),
                     api.get(f"/webhooks/{wid}/deliveries"), api.post(f"/webhooks/{wid}/test"),
                     api.get(f"/webhooks/{uuid.uuid4()}")):
        assert_problem(response, 404)
    still = other_api.get(f"/webhooks/{wid}").json()
    assert still["enabled"] is True and len(other_api.get(f"/webhooks/{wid}/deliveries").json()["data"]) == 1


def test_only_admins_manage_webhooks(api, client, webhook_settings):  # noqa: F811
    created = _create(api)
    member_key = api.post("/api-keys", {"role": "member", "name": "integration"}).json()["api_key"]
    member = Api(client, {"Authorization": f"Bearer {member_key}"})
    for response in (member.get("/webhooks"), member.post("/webhooks", {"url": HOOK}),
                     member.get(f"/webhooks/{created['id']}/deliveries"),
                     member.post(f"/webhooks/{created['id']}/rotate-secret")):
        assert_problem(response, 403)
    assert_problem(Api(client, {}).get("/webhooks"), 401)


def test_webhook_writes_are_audited_without_the_secret_or_the_url_path(api, webhook_settings):  # noqa: F811
    created = _create(api, url="http://127.0.0.1:9/services/T000/B000/credential-in-path?token=abc")
    rotated = api.post(f"/webhooks/{created['id']}/rotate-secret").json()
    api.patch(f"/webhooks/{created['id']}", {"enabled": False})
    api.delete(f"/webhooks/{created['id']}")
    r = api.get("/audit", params={"entity_type": "webhook", "entity_id": created["id"]})
    assert r.status_code == 200, r.text
    entries = r.json()["data"]
    assert [e["action"] for e in entries] == ["delete", "update", "update", "create"]
    assert {e["actor_type"] for e in entries} == {"api_key"}
    text = r.text
    for secret in (created["secret"], rotated["secret"], "credential-in-path", "token=abc"):
        assert secret not in text
    assert entries[-1]["changes"]["url"] == [None, "http://127.0.0.1:9/…"]
    assert entries[-1]["changes"]["secret"] == [None, "(hidden)"]
    assert entries[1]["changes"]["enabled"] == [True, False]
