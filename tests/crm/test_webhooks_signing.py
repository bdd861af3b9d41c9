"""CRM-Signature: what a receiver's `verify` accepts and refuses (replay window, tampering, wrong secret)."""

from __future__ import annotations

import pytest

from crm.webhooks.signing import SignatureError, sign, signature, verify

SECRET, BODY, T = "whsec_test", b'{"id":"1","type":"deal.updated"}', 1_800_000_000


def test_signed_body_verifies_and_the_header_has_the_documented_form():
    header = sign(SECRET, BODY, T)
    assert header == f"t={T},v1={signature(SECRET, T, BODY)}"
    assert len(header.split("v1=")[1]) == 64
    assert verify(SECRET, header, BODY, now=T + 10) == T


@pytest.mark.parametrize("offset", [301, -301, 10_000])
def test_outside_the_five_minute_window_is_refused(offset):
    with pytest.raises(SignatureError, match="replay"):
        verify(SECRET, sign(SECRET, BODY, T), BODY, now=T + offset)


def test_edge_of_the_window_is_accepted():
    assert verify(SECRET, sign(SECRET, BODY, T), BODY, now=T + 300) == T
    assert verify(SECRET, sign(SECRET, BODY, T), BODY, now=T - 300) == T


def test_tampered_body_wrong_secret_or_moved_timestamp_fail():
    header = sign(SECRET, BODY, T)
    with pytest.raises(SignatureError, match="no signature matches"):
        verify(SECRET, header, BODY.replace(b"deal", b"lead"), now=T)
    with pytest.raises(SignatureError, match="no signature matches"):
        verify("whsec_other", header, BODY, now=T)
    moved = header.replace(f"t={T}", f"t={T + 60}")   # a replay with a fresh time: the time is signed too
    with pytest.raises(SignatureError, match="no signature matches"):
        verify(SECRET, moved, BODY, now=T + 60)


@pytest.mark.parametrize("header", [None, "", "v1=abc", f"t={T}", "t=soon,v1=abc", "garbage"])
def test_malformed_headers_are_refused(header):
    with pytest.raises(SignatureError):
        verify(SECRET, header, BODY, now=T)


def test_any_of_several_v1_signatures_may_match_during_a_secret_rotation():
    header = f"t={T},v1={signature('old', T, BODY)},v1={signature(SECRET, T, BODY)}"
    assert verify(SECRET, header, BODY, now=T) == T
