from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from dispatch.simulation.database import throwaway


class Command(BaseCommand):
    help = (
        "Live through generated agencies' days through the real API, checking every invariant after every step, "
        "in a throwaway database; print the figures and every failure with its replay."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=3, help="Operating days after the first evening's plan.")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--agencies", type=int, default=2, choices=range(1, 5), metavar="{1..4}")
        parser.add_argument("--scale", choices=("small", "full"), default="full")
        parser.add_argument("--until-step", type=int, help="Stop after this step (to replay a failure).")
        parser.add_argument(
            "--progress", action="store_true", help="Print each failure, and each new day, to stderr as the run reaches it."
        )
        parser.add_argument(
            "--allow-known", action="store_true", help="Exit 0 when every failure is a known one (issues 11 and 12)."
        )

    def handle(self, *args, **opts) -> None:
        if opts["days"] < 1:
            raise CommandError("--days must be at least 1.")
        from dispatch.simulation import command_for, simulate

        command = command_for(seed=opts["seed"], days=opts["days"], agencies=opts["agencies"], scale=opts["scale"])

        def progress(failure) -> None:
            self.stderr.write(failure.text(command))
            self.stderr.flush()

        def day(number: int, step: int) -> None:
            self.stderr.write(f"day {number} reached at step {step}")
            self.stderr.flush()

        with throwaway():
            outcome = simulate(
                seed=opts["seed"],
                days=opts["days"],
                agencies=opts["agencies"],
                scale=opts["scale"],
                until_step=opts["until_step"],
                on_failure=progress if opts["progress"] else None,
                on_day=day if opts["progress"] else None,
            )
        self.stdout.write("\n".join(outcome.lines))
        failing = outcome.unknown_failures if opts["allow_known"] else outcome.failures
        if failing:
            raise CommandError(f"{len(failing)} invariant failures (seed {opts['seed']}).")
