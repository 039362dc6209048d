from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from geopy.distance import geodesic

import optimizer
from dispatch.travel import osrm_matrix, travel_provider

UNION_STATION = optimizer.Location(43.6453, -79.3806)
HIGH_PARK = optimizer.Location(43.6465, -79.4637)


def test_travel_is_geodesic_distance_times_the_detour_at_the_therapists_speed(settings):
    settings.ROUNDS_DETOUR_FACTOR = 1.4
    travel = travel_provider(locations=[UNION_STATION, HIGH_PARK])
    straight = geodesic((UNION_STATION.lat, UNION_STATION.lon), (HIGH_PARK.lat, HIGH_PARK.lon)).km
    assert travel.travel_km(UNION_STATION, HIGH_PARK) == pytest.approx(straight * 1.4, rel=0.005)
    assert travel.travel_min(UNION_STATION, HIGH_PARK, 15.0) == pytest.approx(straight * 1.4 / 15 * 60, rel=0.01)


class _OsrmHandler(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        _OsrmHandler.requests.append(self.path)
        body = {
            "code": "Ok",
            "durations": [[0, 600], [660, 0]],
            "distances": [[0, 7000], [7400, 0]],
        }
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def osrm_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OsrmHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_osrm_table_becomes_the_travel_matrix(osrm_server, settings):
    settings.ROUNDS_OSRM_URL = osrm_server
    travel = travel_provider(locations=[UNION_STATION, HIGH_PARK])
    assert isinstance(travel, optimizer.MatrixTravel)
    assert travel.travel_min(UNION_STATION, HIGH_PARK, 30.0) == pytest.approx(10.0)
    assert travel.travel_km(HIGH_PARK, UNION_STATION) == pytest.approx(7.4)
    assert "/table/v1/driving/-79.380600,43.645300;-79.463700,43.646500" in _OsrmHandler.requests[-1]


def test_an_unreachable_osrm_server_falls_back_to_geodesic_travel(settings):
    settings.ROUNDS_OSRM_URL = "http://127.0.0.1:9"  # the discard port: nothing listens
    assert isinstance(travel_provider(locations=[UNION_STATION, HIGH_PARK]), optimizer.GeodesicTravel)


def test_a_location_outside_the_osrm_matrix_is_a_clear_error(osrm_server):
    with pytest.raises(ValueError, match="not in the travel matrix"):
        osrm_matrix(base_url=osrm_server, locations=[UNION_STATION, HIGH_PARK]).travel_min(
            UNION_STATION, optimizer.Location(0, 0), 30
        )
