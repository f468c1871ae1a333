# ChamaHub — the two commands: `make run` and `make test`. Needs only Python 3.11 and make.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint migrate seed check ci bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# The local Daraja simulator runs beside the API (port 8089) unless MPESA_BASE_URL points elsewhere, so an STK push
# makes a real HTTP round trip and its callback confirms the contribution, with no network.
run: seed
	@if [ -z "$$MPESA_BASE_URL" ]; then \
		$(BIN)/python manage.py daraja_simulator --port 8089 & SIM=$$!; \
		trap "kill $$SIM 2>/dev/null" EXIT INT TERM; \
		DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runserver 127.0.0.1:8000; \
	else \
		DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runserver 127.0.0.1:8000; \
	fi

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

check: install
	$(BIN)/python manage.py makemigrations --check --dry-run
	SECRET_KEY=$$($(BIN)/python -c "import secrets;print(secrets.token_urlsafe(60))") MPESA_ALLOW_SIMULATOR=1 DJANGO_SETTINGS_MODULE=chamahub.settings.production \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) db.sqlite3
