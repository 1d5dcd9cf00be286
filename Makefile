# Two commands do all set-up: `make run` (portal with demo data) and `make test`.
SHELL := /bin/bash
# Python 3.13 everywhere: development, CI and the image (Debian trixie's python3).
PYTHON ?= $(shell command -v python3.13 2>/dev/null || ( [ -x $$HOME/.pyenv/versions/3.13.0/bin/python3 ] && echo $$HOME/.pyenv/versions/3.13.0/bin/python3 ) || echo python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
FAKE_STRIPE_PORT ?= 8420

# Tests talk to real services; override these to point elsewhere.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/portal
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: wheels image image-smoke lock lock-upgrade install run test test-fast test-integration test-e2e test-properties-deep lint check worker bench clean audit secrets

# Dependencies come from uv.lock only (hashes for every file). uv itself is bootstrapped
# from requirements/uv.txt (pinned with hashes) into .tools. `uv sync --locked` refuses to
# run when pyproject.toml and uv.lock disagree, so a changed dependency needs `make lock`.
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

$(UV): requirements/uv.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 13), "Python 3.13 is required: set PYTHON=/path/to/python3.13"'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --require-hashes -r requirements/uv.txt
	@touch $@

$(BIN)/.installed: pyproject.toml uv.lock $(UV)
	$(UV) sync --locked --extra test --python $(PYTHON) --quiet
	@touch $@

# Resolve again after editing pyproject.toml (keeps every other pin); lock-upgrade moves
# every package to the newest version the ranges allow. Both rewrite uv.lock: commit it.
lock: $(UV)
	$(UV) lock --python $(PYTHON)

lock-upgrade: $(UV)
	$(UV) lock --upgrade --python $(PYTHON)

# axe-core for the accessibility audit in the browser tests (tests/e2e), pinned in
# package-lock.json; npm ci writes node_modules/.package-lock.json.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(BIN)/.installed node_modules/.package-lock.json

# The portal on embedded defaults (SQLite, in-process cache and tasks, console email) with
# a local fake Stripe, at http://127.0.0.1:$(PORT). Set DATABASE_URL/REDIS_URL to use
# PostgreSQL and Redis instead. `make run PORT=8101 FAKE_STRIPE_PORT=8421` moves both: the
# portal's links (SITE_URL, unless set) and its Stripe settings and CSP follow the ports.
# Either port already taken, or the fake not answering: it stops with a message.
run: export SITE_URL ?= http://127.0.0.1:$(PORT)
run: export STRIPE_API_BASE = http://127.0.0.1:$(FAKE_STRIPE_PORT)
run: export STRIPE_JS_URL = http://127.0.0.1:$(FAKE_STRIPE_PORT)/js.stripe.com/v3/
run: $(BIN)/.installed  # the portal needs no Node.js (npm is for the browser tests)
	@for port in $(PORT) $(FAKE_STRIPE_PORT); do \
		if ! $(BIN)/python -c 'import socket, sys; socket.create_server(("127.0.0.1", int(sys.argv[1])))' \
			"$$port" 2>/dev/null; then \
			echo "make run: port $$port on 127.0.0.1 is already in use (another make run?)." \
				"Stop it, or choose others: make run PORT=8101 FAKE_STRIPE_PORT=8421" >&2; \
			exit 1; fi; done
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@set -m; \
	$(BIN)/python manage.py fake_stripe --port $(FAKE_STRIPE_PORT) \
		--webhook-url http://127.0.0.1:$(PORT)/webhooks/stripe/ & fake=$$!; \
	trap 'kill -- -$$fake $${sweeper:+-$$sweeper} $${server:+-$$server} 2>/dev/null' EXIT INT TERM; \
	for attempt in $$(seq 1 100); do \
		(exec 3<>/dev/tcp/127.0.0.1/$(FAKE_STRIPE_PORT)) 2>/dev/null && break; \
		if ! kill -0 $$fake 2>/dev/null || [ $$attempt = 100 ]; then \
			echo "make run: the fake Stripe did not start on port $(FAKE_STRIPE_PORT);" \
				"without it nobody can pay. See its error above." >&2; exit 1; fi; \
		sleep 0.2; done; \
	( while sleep 60; do $(BIN)/python manage.py release_expired_holds -v0 >/dev/null; done ) & sweeper=$$!; \
	echo "Portal: $$SITE_URL/   Staff: $$SITE_URL/admin/   Fake Stripe: $$STRIPE_API_BASE"; \
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT) & server=$$!; \
	wait $$server

# Every test, against PostgreSQL and Redis on this machine (see README).
test: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -q

test-fast: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -q -m "not integration and not e2e"

test-integration: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -q -m integration

test-e2e: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -q -m e2e

# On demand: the money-path state machine and every other property test, searched deeper.
PROPERTY_EXAMPLES ?= 500
test-properties-deep: install
	PROPERTY_EXAMPLES=$(PROPERTY_EXAMPLES) DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/pytest -q tests -k "properties or machine"

# Style, then the architecture: the layer contract (import-linter, pyproject.toml; it sees
# imports inside functions too), no function-level import without a reason, and no status
# string literal outside the models.
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python scripts/check_function_imports.py
	$(BIN)/python scripts/check_status_literals.py

# --- Supply chain and secrets (CI runs both after lint) ---------------------------------
# Known vulnerabilities in every installed package (pip-audit). OSV is pip-audit's default
# service; AUDIT_SERVICE=pypi uses PyPI's advisories instead. --strict: a package that could
# not be checked (service unreachable) fails the audit rather than passing unseen.
# Accepted advisories: AUDIT_IGNORE="--ignore-vuln ID ..." with the reason written here.
AUDIT_SERVICE ?= osv
AUDIT_IGNORE ?=
audit: install
	$(UV) export --frozen --all-extras --no-emit-project --no-hashes --format requirements-txt \
		--quiet > $(VENV)/audit-requirements.txt
	$(BIN)/pip-audit --strict --progress-spinner off -s $(AUDIT_SERVICE) --no-deps --disable-pip \
		-r $(VENV)/audit-requirements.txt $(AUDIT_IGNORE)

# No secrets in the repository (detect-secrets): a finding not audited as a false positive
# in .secrets.baseline fails. Exit 3 of the hook only means lines moved, not a new secret.
# Audit new false positives: detect-secrets scan --baseline .secrets.baseline, then
# detect-secrets audit .secrets.baseline.
secrets: install
	@cp .secrets.baseline $(VENV)/secrets.baseline; \
	out=$$($(BIN)/detect-secrets-hook --baseline $(VENV)/secrets.baseline \
		$$(git ls-files ':!.secrets.baseline')); status=$$?; \
	if [ $$status -ne 0 ] && [ $$status -ne 3 ]; then echo "$$out"; \
		echo "Possible secrets above: remove them, or audit false positives into .secrets.baseline."; \
		exit 1; fi; echo "No secrets found outside the audited baseline."

# What CI checks besides the tests: no missing migrations, a clean deploy check.
check: install
	$(BIN)/python manage.py makemigrations --check --dry-run
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) DEBUG=0 \
		SECRET_KEY=ci-only-$$(head -c 96 /dev/urandom | base64 -w0 | tr -dc 'a-zA-Z0-9') \
		ALLOWED_HOSTS=portal.example.com STRIPE_SECRET_KEY=sk_test_x STRIPE_WEBHOOK_SECRET=whsec_x \
		STRIPE_PUBLISHABLE_KEY=pk_test_x $(BIN)/python manage.py check --deploy --fail-level WARNING

# Benchmarks (not tests): each prints its figures (medians of 3 runs); results are kept in
# bench/README.md. About 15 minutes; the first run also builds the 100k-booking data set.
bench: install
	$(BIN)/python bench/hot_session.py --clients 200 --capacity 200 --concurrency 1 --pgbench-seconds 0
	$(BIN)/python bench/hot_session.py --clients 1000 --capacity 200 --concurrency 32
	$(BIN)/python bench/catalogue.py
	$(BIN)/python bench/webhook_storm.py
	$(BIN)/python bench/staff.py

worker: install
	$(BIN)/celery -A config worker -B -l info

# --- Image (docs/deploying.md) ------------------------------------------------------------
# wheels/: every runtime wheel of the lock (plus the demo extra's fake Stripe, for the demo
# stage only), built on the host with Python 3.13 and checked against the lock's hashes;
# the image installs from it with --no-index --require-hashes (no index inside the build).
# BASE_IMAGE=local/trixie:base builds the base with debootstrap (no registry reachable).
BASE_IMAGE ?= debian:trixie-slim
IMAGE ?= portal:latest
PROXY_IMAGE ?= portal-proxy:latest
DEMO_IMAGE ?= portal-demo:latest
WHEELS := wheels

$(WHEELS)/.built: uv.lock $(UV)
	rm -rf $(WHEELS) && mkdir -p $(WHEELS)
	$(UV) export --frozen --no-dev --no-emit-project --format requirements-txt --quiet \
		-o $(WHEELS)/runtime.txt
	$(UV) export --frozen --no-dev --no-emit-project --extra demo --format requirements-txt \
		--quiet -o $(WHEELS)/demo.txt
	$(PYTHON) -m pip wheel --quiet --disable-pip-version-check --require-hashes --only-binary :all: \
		-r $(WHEELS)/runtime.txt -w $(WHEELS) 2>&1 | grep -v '^WARNING: Location' || true
	# localstripe is published as an sdist only: its wheel is built here from the sdist
	# whose hash the lock checks (demo stage only).
	$(PYTHON) -m pip wheel --quiet --disable-pip-version-check --require-hashes \
		-r $(WHEELS)/demo.txt -w $(WHEELS) 2>&1 | grep -v '^WARNING: Location' || true
	@ls $(WHEELS)/localstripe-*.whl >/dev/null
	@touch $@

wheels: $(WHEELS)/.built

image: wheels
	BASE_IMAGE=$(BASE_IMAGE) IMAGE=$(IMAGE) PROXY_IMAGE=$(PROXY_IMAGE) DEMO_IMAGE=$(DEMO_IMAGE) \
		deploy/build-image.sh

# Runs the image (web x2 behind the proxy, worker, beat) against this machine's PostgreSQL
# and Redis and checks it over HTTPS: see deploy/smoke.py.
image-smoke: install
	IMAGE=$(IMAGE) PROXY_IMAGE=$(PROXY_IMAGE) deploy/smoke.sh

clean:
	rm -rf $(VENV) $(TOOLS) var staticfiles node_modules $(WHEELS)
