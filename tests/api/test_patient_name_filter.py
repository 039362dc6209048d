"""GET /api/v1/patients?name=: a therapist's filter matches only what a therapist is shown of a name."""
from __future__ import annotations

import pytest

from tests import factories as f
from tests.api.conftest import _scheduled


@pytest.fixture
def theodore(world):
    world.patient_x.first_name, world.patient_x.last_name = "Theodore", "Brown"
    world.patient_x.save()
    return world


def _names(client, query: str) -> list[str]:
    response = client.get("/api/v1/patients", {"name": query})
    assert response.status_code == 200, response.content
    return [f"{p['first_name']} {p.get('last_initial') or p.get('last_name')}" for p in response.json()["results"]]


@pytest.mark.parametrize("query", ["Brown", "brown", "Br", "row", "Theodore Brown", "Browx"])
def test_a_therapist_cannot_find_a_patient_by_the_hidden_surname(theodore, query):
    assert _names(theodore.clients["therapist"], query) == []


@pytest.mark.parametrize("query", ["Theo", "theodore", "B", "b.", "Theodore B.", "Theodore B"])
def test_a_therapist_finds_a_patient_by_first_name_and_last_initial(theodore, query):
    assert _names(theodore.clients["therapist"], query) == ["Theodore B"]


def test_a_wrong_initial_finds_nothing(theodore):
    assert _names(theodore.clients["therapist"], "Theodore C.") == []


def test_coordinators_and_the_facilitys_staff_still_search_the_full_name(theodore):
    for role in ("coordinator", "staff_x"):
        # (in, not ==: the fixture's other patients have random surnames, "Browne" among them now and then)
        assert "Theodore Brown" in _names(theodore.clients[role], "Brown")
        assert _names(theodore.clients[role], "Browx") == []


def test_a_therapists_list_is_not_ordered_by_the_hidden_surname(theodore):
    # Two patients with the same first name and initial: the order must not say whose surname comes first.
    for last, start, end in (("Bzzz", "10:00", "10:30"), ("Baaa", "11:00", "11:30")):
        patient = f.PatientFactory(organization=theodore.org, first_name="Theodore", last_name=last)
        _scheduled(f.VisitFactory(organization=theodore.org, patient=patient), theodore.therapist, start, end)
    results = theodore.clients["therapist"].get("/api/v1/patients", {"name": "Theodore"}).json()["results"]
    assert [p["id"] for p in results] == sorted(p["id"] for p in results)
