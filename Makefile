# procopt: `make run` serves the app with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install lock migrate demo lint fmt i18n bench docker clean

# Installs exactly the locked versions (requirements-dev.lock, with hashes), then procopt itself without
# dependencies. The output goes to $(VENV)/install.log and is shown only when the install fails.
$(STAMP): pyproject.toml requirements-dev.lock
	@echo "procopt: installing into $(VENV) (log: $(VENV)/install.log)"
	@$(PYTHON) -m venv $(VENV)
	@{ $(BIN)/pip install --upgrade pip \
	   && $(BIN)/pip install --require-hashes -r requirements-dev.lock \
	   && $(BIN)/pip install --no-deps -e . ; } > $(VENV)/install.log 2>&1 \
	   || { cat $(VENV)/install.log; echo "procopt: the install failed (log above)"; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## set up, migrate, load demo data into an empty database, serve on http://127.0.0.1:8000
	$(BIN)/procopt migrate
	$(BIN)/procopt demo
	$(BIN)/procopt serve

TEST_WORKERS ?= auto  # pytest-xdist workers, one per core; TEST_WORKERS=0 runs in this one process

test: $(STAMP)  ## the whole suite: SQLite, plus PostgreSQL when TEST_DATABASE_URL is set; lint too
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/pytest -n $(TEST_WORKERS)

lock: $(STAMP)  ## refresh requirements.lock (runtime, the Docker image) and requirements-dev.lock from pyproject.toml's ranges
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet \
	    --custom-compile-command 'make lock' -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes --quiet \
	    --custom-compile-command 'make lock' -o requirements-dev.lock

lint: $(STAMP)
	$(BIN)/ruff check app tests bench migrations

fmt: $(STAMP)
	$(BIN)/ruff check --fix app tests bench migrations

migrate: $(STAMP)
	$(BIN)/procopt migrate

demo: $(STAMP)
	$(BIN)/procopt demo

i18n: $(STAMP)  ## re-extract messages and update the catalogs (then translate app/translations/zh_CN)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k NC_:1c,2 -o app/translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching --ignore-obsolete

bench: $(STAMP)
	$(BIN)/python bench/api.py

docker:
	docker build -t procopt .

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
