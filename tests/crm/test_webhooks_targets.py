"""The SSRF rule: non-public targets are refused at create/update (422 reason) unless the operator allows them."""

from __future__ import annotations

import pytest

from crm.db.engine import tenant_session
from crm.services.errors import Invalid
from crm.settings import get_settings
from crm.webhooks import subscriptions, targets

REFUSED = {
    "http://127.0.0.1/hook": "loopback",
    "http://10.0.0.1/hook": "private",
    "http://192.168.1.20:8080/": "private",
    "http://169.254.169.254/latest/meta-data/": "link-local",
    "http://localhost:9000/": "loopback",
    "http://[::1]/": "loopback",
    "http://[::ffff:10.0.0.1]/": "private",
    "http://0.0.0.0/": "unspecified",
    "http://224.0.0.1/": "multicast",
    "http://100.64.0.1/": "not public",
}


@pytest.fixture
def private_allowed(monkeypatch):
    def set_(value: bool):
        monkeypatch.setenv("CRM_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true" if value else "false")
        get_settings.cache_clear()
    yield set_
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize("url,why", REFUSED.items())
def test_non_public_addresses_are_refused_by_default(url, why, private_allowed):
    private_allowed(False)
    with pytest.raises(targets.TargetRefused, match="CRM_WEBHOOK_ALLOW_PRIVATE_TARGETS") as refused:
        targets.check(url)
    assert why in str(refused.value)
    assert refused.value.field == "url"


@pytest.mark.parametrize("url,why", [("file:///etc/passwd", "scheme 'file'"), ("gopher://1.1.1.1/", "scheme"),
                                     ("ftp://1.1.1.1/", "scheme"), ("http://user:pw@1.1.1.1/", "credentials"),
                                     ("http:///nohost", "host"), ("not a url", "scheme")])
def test_other_schemes_credentials_and_hostless_urls_are_refused_even_when_private_is_allowed(url, why,
                                                                                              private_allowed):
    private_allowed(True)
    with pytest.raises(targets.TargetRefused, match=why):
        targets.check(url)


def test_public_address_passes_and_is_pinned():
    target = targets.check("https://1.1.1.1:8443/hooks?x=1", allow_private=False)
    assert str(target.pinned_url) == "https://1.1.1.1:8443/hooks?x=1"
    assert target.host_header == "1.1.1.1:8443"


def test_operator_setting_allows_private_targets(private_allowed):
    private_allowed(True)
    for url in ("http://127.0.0.1/hook", "http://10.0.0.1/", "http://localhost:9000/"):
        assert targets.check(url).address.is_private or targets.check(url).address.is_loopback


def test_service_refuses_a_private_url_at_create_and_update(tenant, private_allowed):
    private_allowed(False)
    with tenant_session(tenant["tenant_id"]) as s, pytest.raises(Invalid, match="loopback") as refused:
        subscriptions.create(s, "http://localhost/hook", ["*"])
    assert refused.value.code == "webhook-target-refused"
    private_allowed(True)
    with tenant_session(tenant["tenant_id"]) as s:
        sub_id = subscriptions.create(s, "http://127.0.0.1:9/hook", ["deal.*"]).subscription.id
    private_allowed(False)
    with tenant_session(tenant["tenant_id"]) as s, pytest.raises(Invalid, match="link-local"):
        subscriptions.update(s, sub_id, url="http://169.254.169.254/")
    with tenant_session(tenant["tenant_id"]) as s:
        assert subscriptions.get(s, sub_id).url == "http://127.0.0.1:9/hook"
