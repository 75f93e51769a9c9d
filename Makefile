# procopt: `make run` serves the app with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install migrate demo lint fmt i18n bench docker clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## set up, migrate, load demo data into an empty database, serve on http://127.0.0.1:8000
	$(BIN)/procopt migrate
	$(BIN)/procopt demo
	$(BIN)/procopt serve

test: $(STAMP)  ## the whole suite: SQLite, plus PostgreSQL when TEST_DATABASE_URL is set; lint too
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/pytest

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
