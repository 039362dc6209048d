"""Figures, not a test: where the time goes on a large generated day (issue 15's 2,000 / 200 goal).

`.venv/bin/python bench/scale_probe.py THERAPISTS VISITS SECONDS`: the problem data, the routing
model, our cheapest-insertion construction from empty routes (``construction.fill_routes``), OR-Tools'
read-back of it (``ReadAssignmentFromRoutes``), then iterated local search from it for what is left
of SECONDS, the reasons, and the checker.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import time, sys, importlib
from optimizer import Options, check_solution
from optimizer.construction import fill_routes
from optimizer.model_data import build_model_data
from optimizer.problem import Priority
S = importlib.import_module("optimizer.solve")
from optimizer.benchmarks.therapist_day import generate_day
from optimizer.analysis import prefilter
t, n, tl = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
p = generate_day(0, therapists=t, visits=n)
t0 = time.monotonic()
modelled, _ = prefilter(p)
o = Options(time_limit_s=tl, seed=0, deterministic=False)
data = build_model_data(p, o, modelled)
tb = time.monotonic()
routing, manager, breaks = S._build_model(data)
params = S.search_parameters(o, 3600)
routing.CloseModelWithParameters(params)
t1 = time.monotonic()
routes = [[] for _ in p.therapists]
fill_routes(data, routes)
t2 = time.monotonic()
start = routing.ReadAssignmentFromRoutes([[manager.NodeToIndex(x) for x in r] for r in routes], True)
t3 = time.monotonic()
print(f"prefilter+data {tb-t0:.1f}s model {t1-tb:.1f}s construction {t2-t1:.1f}s read {t3-t2:.1f}s served {sum(map(len, routes))} accepted {start is not None}", flush=True)
params.use_iterated_local_search = True
left = tl - (time.monotonic() - t0) - 3
params.time_limit.FromMilliseconds(int(max(left, 1) * 1000))
a = routing.SolveFromAssignmentWithParameters(start, params) if start else None
t4 = time.monotonic()
routes_read = S.read_routes(routing, manager, data, a, breaks)
sol = S._result(p, routes_read, "feasible", a.ObjectiveValue(), t0, "time_limit", data)
byid = {x.id: x for x in p.visits}
urgent_out = [u for u in sol.unassigned if byid[u.visit_id].priority == Priority.URGENT]
print(f"search to {t4-t0:.1f}s; total wall {time.monotonic()-t0:.1f}s; served {sol.kpis.assigned} of {n}; urgent left out {len(urgent_out)} of {sum(1 for x in p.visits if x.priority == Priority.URGENT)}; travel {sol.kpis.travel_min:.0f}; checker {len(check_solution(p, sol))}")
for u in urgent_out[:3]: print("  ", u.reason)
