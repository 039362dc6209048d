"""``python -m optimizer``: solve a problem file, or run the benchmarks."""

from __future__ import annotations

import argparse
import json
import sys

from optimizer.io import ProblemFormatError, load_problem

BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m optimizer", description="Rounds' route optimiser.")
    commands = parser.add_subparsers(dest="command", required=True)
    solve = commands.add_parser("solve", help="solve PROBLEM.json and print the solution as JSON")
    solve.add_argument("problem", help="problem JSON, see optimizer/problem.schema.json")
    solve.add_argument("--time-limit", type=float, default=10.0, help="seconds (default 10)")
    solve.add_argument("--seed", type=int, default=0)
    solve.add_argument(
        "--no-deterministic",
        dest="deterministic",
        action="store_false",
        help="search until the time limit (by default the search stops on a solution budget calibrated "
        "to the time limit, so the same seed gives the same plan; see Options)",
    )
    solve.add_argument(
        "--wall-cap", type=float, default=None, help="deterministic mode's wall-clock safety cap in seconds "
        "(default 3 times the time limit)"
    )
    bench = commands.add_parser("bench", help="Solomon instances against PyVRP and VROOM, or a therapist day")
    which = bench.add_mutually_exclusive_group(required=True)
    which.add_argument("--solomon", help="comma-separated instance names, or 'all'")
    which.add_argument("--therapist-day", action="store_true", help="a generated day: 30 therapists, 250 visits")
    which.add_argument(
        "--scale", action="store_true", help="a generated large day (200 therapists, 2,000 visits) as the product plans it"
    )
    bench.add_argument("--time-limit", type=float, default=None, help="seconds per solve (10; 15 for a day)")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--processes", type=int, default=1, help="Solomon: also run ours in this many processes")
    bench.add_argument("--therapists", type=int, default=None, help="therapists of a generated day (30; 200 at scale)")
    bench.add_argument("--visits", type=int, default=None, help="visits of a generated day (250; 2,000 at scale)")
    bench.add_argument("--peers", default="pyvrp,vroom", help="comma-separated: pyvrp, vroom, or none")
    bench.add_argument("--data", default=None, help="folder holding solomon/ (default ../shared/benchmarks)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "solve":
        return _solve(args)
    peers = [] if args.peers in ("", "none") else args.peers.split(",")
    unknown = set(peers) - {"pyvrp", "vroom"}
    if unknown:
        print(f"error: --peers: unknown solver {sorted(unknown)[0]!r}.", file=sys.stderr)
        return BAD_INPUT
    if args.scale:
        from optimizer.benchmarks.therapist_day import run_scale

        return run_scale(
            seed=args.seed,
            time_limit_s=args.time_limit or 60.0,
            therapists=args.therapists or 200,
            visits=args.visits or 2000,
        )
    if args.therapist_day:
        from optimizer.benchmarks.therapist_day import run as run_day

        return run_day(
            seed=args.seed,
            time_limit_s=args.time_limit or 15.0,
            peers=peers,
            therapists=args.therapists or 30,
            visits=args.visits or 250,
        )
    from optimizer.benchmarks.solomon import run as run_solomon

    try:
        lines = run_solomon(
            args.solomon.split(","),
            time_limit_s=args.time_limit or 10.0,
            peers=peers,
            data=args.data,
            processes=args.processes,
        )
    except FileNotFoundError as exc:
        print(f"error: --solomon: {exc.filename} not found (set --data or ROUNDS_BENCH_DATA).", file=sys.stderr)
        return BAD_INPUT
    return 1 if any("VIOLATION" in line for line in lines) else 0


def _solve(args: argparse.Namespace) -> int:
    from optimizer.options import Options
    from optimizer.solve import solve

    try:
        problem = load_problem(args.problem)
    except ProblemFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    if args.time_limit <= 0:
        print(f"error: --time-limit: {args.time_limit} is not positive.", file=sys.stderr)
        return BAD_INPUT
    if args.wall_cap is not None and args.wall_cap <= 0:
        print(f"error: --wall-cap: {args.wall_cap} is not positive.", file=sys.stderr)
        return BAD_INPUT
    options = Options(
        time_limit_s=args.time_limit, seed=args.seed, deterministic=args.deterministic, wall_cap_s=args.wall_cap
    )
    solution = solve(problem, options=options)
    json.dump(solution.to_dict(), sys.stdout, indent=2)
    print()
    return 0
