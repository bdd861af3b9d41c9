"""`ETag` on reads and writes, `If-Match` on PATCH and DELETE: a stale copy cannot overwrite a newer one."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, assert_problem


def test_get_sends_a_strong_etag_that_changes_with_every_write(api: Api):
    note = api.post("/notes", {"body": "v1"})
    assert note.status_code == 201
    got = api.get(f"/notes/{note.json()['id']}")
    etag = got.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')   # strong, not W/
    assert note.headers["ETag"] == etag
    assert api.get(f"/notes/{note.json()['id']}").headers["ETag"] == etag   # stable while unchanged

    patched = api.patch(f"/notes/{note.json()['id']}", {"body": "v2"})
    assert patched.headers["ETag"] != etag
    assert api.get(f"/notes/{note.json()['id']}").headers["ETag"] == patched.headers["ETag"]


def test_stale_if_match_is_412_and_current_one_is_200(api: Api):
    company = api.company()
    path = f"/companies/{company['id']}"
    first = api.get(path).headers["ETag"]
    second = api.patch(path, {"industry": "Retail"}, headers={"If-Match": first})
    assert second.status_code == 200
    body = assert_problem(api.patch(path, {"industry": "Travel"}, headers={"If-Match": first}), 412)
    assert "changed" in body["detail"]
    assert api.get(path).json()["industry"] == "Retail"
    assert_problem(api.delete(path, headers={"If-Match": first}), 412)
    listed = api.patch(path, {"industry": "Travel"}, headers={"If-Match": f'"nope", {second.headers["ETag"]}'})
    assert listed.status_code == 200
    assert api.delete(path, headers={"If-Match": listed.headers["ETag"]}).status_code == 204


def test_if_match_star_and_weak_tags(api: Api):
    company = api.company()
    path = f"/companies/{company['id']}"
    assert api.patch(path, {"industry": "Retail"}, headers={"If-Match": "*"}).status_code == 200
    etag = api.get(path).headers["ETag"]
    # If-Match compares strongly: a weak tag never matches
    assert_problem(api.patch(path, {"industry": "Travel"}, headers={"If-Match": f"W/{etag}"}), 412)
    assert api.delete(path, headers={"If-Match": "*"}).status_code == 204
    # a missing record is 404 whatever the precondition (as the same request without it would be)
    assert_problem(api.delete(path, headers={"If-Match": "*"}), 404)


@pytest.mark.parametrize("resource,body,patch", [
    ("contacts", {"email": "etag@example.com"}, {"title": "CMO"}),
    ("tasks", {"title": "Call"}, {"is_done": True}),
])
def test_without_if_match_writes_still_work(api: Api, resource, body, patch):
    created = api.create(resource, body)
    path = f"/{resource}/{created['id']}"
    assert api.patch(path, patch).status_code == 200
    assert api.delete(path).status_code == 204
