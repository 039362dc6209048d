from __future__ import annotations

import hashlib

import pytest

from dispatch.models import FeedToken
from dispatch.services.feed_tokens import feed_token_resolve, feed_token_revoke, feed_token_rotate, feed_urls


def test_only_the_sha256_of_the_secret_is_stored(therapist):
    feed_token, token = feed_token_rotate(therapist=therapist)
    assert len(token) >= 43  # 32 random bytes, base64url
    assert feed_token.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not FeedToken.objects.filter(token_hash=token).exists()


def test_resolve_finds_the_active_token_and_nothing_else(therapist):
    feed_token, token = feed_token_rotate(therapist=therapist)
    assert feed_token_resolve(token=token).token_id == feed_token.pk
    assert feed_token_resolve(token=token + "x") is None
    assert feed_token_resolve(token="") is None


def test_rotate_revokes_the_previous_token(therapist):
    _, old = feed_token_rotate(therapist=therapist)
    new_token, new = feed_token_rotate(therapist=therapist)
    assert feed_token_resolve(token=old) is None
    assert feed_token_resolve(token=new).token_id == new_token.pk
    assert FeedToken.objects.filter(therapist=therapist, revoked_at__isnull=True).count() == 1


def test_revoke_kills_the_url(facility):
    _, token = feed_token_rotate(facility=facility)
    assert feed_token_revoke(facility=facility) == 1
    assert feed_token_resolve(token=token) is None
    assert feed_token_revoke(facility=facility) == 0


def test_a_token_belongs_to_one_owner(therapist, facility, facility_staff):
    with pytest.raises(AssertionError):
        feed_token_rotate(therapist=therapist, facility=facility)
    with pytest.raises(AssertionError):
        feed_token_rotate(therapist=therapist, user=facility_staff)


def test_a_staff_members_token_and_the_shared_one_are_separate_slots(facility, facility_staff):
    shared, shared_secret = feed_token_rotate(facility=facility)
    own, own_secret = feed_token_rotate(facility=facility, user=facility_staff)
    feed_token_rotate(facility=facility, user=facility_staff)
    assert feed_token_resolve(token=shared_secret).token_id == shared.pk
    assert feed_token_resolve(token=own_secret) is None
    assert feed_token_revoke(facility=facility, every_user=True) == 2


@pytest.mark.parametrize(
    ("public", "url", "webcal_url"),
    [
        (
            "https://rounds.example.org",
            "https://rounds.example.org/feeds/therapists/T.ics",
            "webcal://rounds.example.org/feeds/therapists/T.ics",
        ),
        (
            "http://127.0.0.1:8000/",
            "http://127.0.0.1:8000/feeds/therapists/T.ics",
            "webcal://127.0.0.1:8000/feeds/therapists/T.ics",
        ),
    ],
)
def test_urls_follow_the_public_url(settings, therapist, public, url, webcal_url):
    settings.ROUNDS_PUBLIC_URL = public
    feed_token, _ = feed_token_rotate(therapist=therapist)
    urls = feed_urls(feed_token=feed_token, token="T")
    assert (urls.url, urls.webcal_url) == (url, webcal_url)
