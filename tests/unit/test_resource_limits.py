from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_a_body_over_the_limit_is_refused_with_413_before_it_is_read(coordinator_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = coordinator_client.post("/api/v1/plans", data="x" * 5000, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is 5000 bytes; at most 1000 bytes are accepted.",
        "code": "body_too_large",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("page_size", ["100000", "0", "-5", "ten"])
def test_a_huge_or_bad_page_size_is_a_400_naming_the_parameter(coordinator_client, page_size):
    response = coordinator_client.get(f"/api/v1/plans?page_size={page_size}")
    assert response.status_code == 400
    assert "page_size" in response.data


@pytest.mark.django_db
def test_the_largest_page_size_is_accepted(coordinator_client):
    assert coordinator_client.get("/api/v1/plans?page_size=200").status_code == 200
