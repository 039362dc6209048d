# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?= --create-db

.PHONY: run test test-pg test-loaded bench load simulate venv deps deps-dev deps-bench browser-deps migrate demo serve worker beat clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Each stamp depends on its requirement files, so editing a pin reinstalls.
$(VENV)/.deps: $(BIN)/python requirements.txt
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.deps-dev: $(VENV)/.deps requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

$(VENV)/.deps-bench: $(VENV)/.deps-dev requirements-bench.txt
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@

# The board's end-to-end tests drive Debian's Chromium (Playwright may not download its own browser here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

deps: $(VENV)/.deps
deps-dev: $(VENV)/.deps-dev
deps-bench: $(VENV)/.deps-bench

migrate: deps
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo

# Feed URLs handed out name the address this server was started on, unless ROUNDS_PUBLIC_URL says otherwise.
run: export ROUNDS_PUBLIC_URL ?= http://$(HOST):$(PORT)
run: demo
	$(BIN)/python manage.py plan_day
	$(BIN)/python manage.py demo_today
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py demo_banner --host $(HOST) --port $(PORT)
	$(BIN)/python manage.py runserver $(HOST):$(PORT) --noreload

# A Celery worker for plan runs and notifications; needs REDIS_URL (e.g. redis://127.0.0.1:6379/0).
worker: deps
	$(BIN)/celery -A config worker --loglevel info --concurrency 1

# Celery beat: the notifications' minute job (late and at-risk alerts, retries); one per deployment.
beat: deps
	$(BIN)/celery -A config beat --loglevel info --schedule $(VENV)/celerybeat-schedule

BENCH_SOLOMON ?= C101,C105,C201,C205,R101,R105,R201,R205,RC101,RC105,RC201,RC205
BENCH_SECONDS ?= 10

# Figures, not tests: our optimiser against PyVRP and VROOM at the same time limit in the same run.
# `make bench BENCH_SOLOMON=all` runs all 56 Solomon instances (about 30 minutes).
bench: deps-bench
	$(BIN)/python -m optimizer bench --solomon $(BENCH_SOLOMON) --time-limit $(BENCH_SECONDS) --peers pyvrp,vroom --processes 2
	$(BIN)/python -m optimizer bench --therapist-day --time-limit 15 --peers vroom
	$(BIN)/python -m optimizer bench --therapist-day --therapists 60 --visits 500 --time-limit 15 --peers vroom
	$(BIN)/python -m optimizer bench --scale --time-limit 60
	$(BIN)/python bench/replan_bench.py

# Figures, not tests: a 500-therapist agency on gunicorn and PostgreSQL, loaded as its users would (bench/LOAD_RESULTS.md).
load: deps
	$(BIN)/python bench/load_run.py

DAYS     ?= 3
SEEDS    ?= 1 2 3
AGENCIES ?= 2
SCALE    ?= small

# Generated agencies live through DAYS days per seed through the real API, every invariant checked after every
# step, in a throwaway database; figures and any failure with its replay. `make simulate DAYS=28` is the long run.
simulate: deps-dev
	@status=0; for seed in $(SEEDS); do \
	    $(BIN)/python manage.py simulate --days $(DAYS) --seed $$seed --agencies $(AGENCIES) --scale $(SCALE) \
	        || status=1; \
	done; exit $$status

test: deps-dev browser-deps
	$(BIN)/pytest $(PYTEST_ARGS)

# The suite on the local PostgreSQL and Redis (started if down, as in CI): the tests SQLite skips run here.
PG_TEST_URL    ?= postgres://postgres@127.0.0.1:5432/rounds_test_pg
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15
test-pg: deps-dev browser-deps
	.ci/services
	DATABASE_URL=$(PG_TEST_URL) REDIS_TEST_URL=$(REDIS_TEST_URL) $(BIN)/pytest $(PYTEST_ARGS)

# The suite while another program keeps one core busy: no test may depend on the machine's speed.
test-loaded: deps-dev browser-deps
	@$(PYTHON) -c 'while True: pass' & busy=$$!; trap 'kill $$busy' EXIT INT TERM; \
	    $(MAKE) --no-print-directory test

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 .pytest_cache .hypothesis
