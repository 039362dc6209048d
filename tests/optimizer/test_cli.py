"""``python -m optimizer``: bad input gives a message naming the field and exit code 2."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from optimizer.io import ProblemFormatError, problem_from_dict
from optimizer.solution import BUDGET_STOPS

EXAMPLE = Path(__file__).resolve().parents[2] / "optimizer" / "examples" / "small_day.json"
GOOD = json.loads(EXAMPLE.read_text())


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optimizer", *args], capture_output=True, text=True, timeout=60)


def broken(path: list, value) -> dict:
    data = copy.deepcopy(GOOD)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def test_example_solves_to_json():
    """The shipped example solves and prints a solution with routes and KPIs; by default the search
    stops on its solution budget (the generous wall cap only guards a loaded machine), so a second run
    prints the same plan."""
    first, second = (run_cli("solve", str(EXAMPLE), "--time-limit", "1", "--wall-cap", "60") for _ in range(2))
    assert first.returncode == 0, first.stderr
    solution = json.loads(first.stdout)
    assert solution["routes"] and solution["kpis"]["assigned"] >= 5
    assert solution["stopped_by"] in (*BUDGET_STOPS, "optimal")
    assert json.loads(second.stdout)["routes"] == solution["routes"]


def test_a_wall_cap_that_is_not_positive_gives_exit_code_2():
    """--wall-cap 0 is refused with the option's name."""
    result = run_cli("solve", str(EXAMPLE), "--wall-cap", "0")
    assert result.returncode == 2 and "--wall-cap: 0.0 is not positive" in result.stderr


def test_bad_field_gives_exit_code_2_and_names_the_field(tmp_path):
    """A 95-minute visit is refused with the field path, not a traceback."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(broken(["visits", 3, "duration_min"], 95)))
    result = run_cli("solve", str(path))
    assert result.returncode == 2
    assert "visits[3].duration_min: 95 is outside 15..90" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_json_gives_exit_code_2(tmp_path):
    """A file that is not JSON is refused with the line of the fault."""
    path = tmp_path / "bad.json"
    path.write_text("{ nope")
    result = run_cli("solve", str(path))
    assert result.returncode == 2 and "not valid JSON" in result.stderr


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["visits", 0, "pinned_therapist"], "zoe", "visits[0].pinned_therapist: unknown therapist id 'zoe'"),
        (
            ["visits", 1, "windows", 0],
            {"start_min": 700, "end_min": 600},
            "visits[1].windows[0].end_min: 600 is before",
        ),
        (["therapists", 0, "start", "lat"], 95.0, "therapists[0].start.lat: 95.0 is outside -90..90"),
        (["visits", 2, "location"], {"lat": 1.0}, "visits[2].location.lon: is required"),
        (["visits", 2, "priority"], "asap", 'visits[2].priority: "asap" is not one of'),
        (["therapists", 1, "shift_start_min"], "9:00", "therapists[1].shift_start_min: expected int"),
        (
            ["visits", 4, "forbidden_therapists"],
            ["nobody"],
            "visits[4].forbidden_therapists: unknown therapist id 'nobody'",
        ),
    ],
)
def test_loader_messages_name_the_field(path, value, message):
    """Each malformed field is reported with its path."""
    with pytest.raises(ProblemFormatError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        problem_from_dict(broken(path, value))


def test_bench_rejects_unknown_peer():
    """An unknown --peers name exits with code 2."""
    result = run_cli("bench", "--solomon", "C101", "--peers", "ortools")
    assert result.returncode == 2 and "--peers" in result.stderr
