"""Simulated time: the whole process lives at the simulated instant, which moves only when told.

time-machine patches ``time.time`` and ``datetime.now`` (so ``django.utils.timezone.now``, auto_now
fields, throttles and token expiry all read simulated time); ``time.monotonic`` and
``time.perf_counter`` stay real, so latencies and the optimiser's own time limit are measured truly.
"""

from __future__ import annotations

import datetime as dt

import time_machine

REQUEST_S = 0.1  # simulated duration of one request (fixed, so a seed replays exactly)


class SimClock:
    def __init__(self, start: dt.datetime) -> None:
        assert start.tzinfo is not None, "the simulated clock starts at an aware instant"
        self.now = start
        self._travel = time_machine.travel(start, tick=False)
        self._traveller = None

    def __enter__(self) -> SimClock:
        self._traveller = self._travel.start()
        return self

    def __exit__(self, *exc) -> None:
        self._travel.stop()

    def tick(self, seconds: float = REQUEST_S) -> None:
        """A request takes time: without it two writes in one step would share a timestamp to the microsecond."""
        self.move_to(self.now + dt.timedelta(seconds=seconds))

    def move_to(self, moment: dt.datetime) -> None:
        assert moment >= self.now, f"time runs forward: {moment} is before {self.now}"
        self.now = moment
        self._traveller.move_to(moment)
