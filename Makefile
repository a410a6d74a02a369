# The two commands a newcomer needs:
#   make run   - set up, migrate, seed the demo utility and serve the gateway on 127.0.0.1:8080
#   make test  - set up, make sure PostgreSQL is up, lint (ruff, mypy), run the whole suite on SQLite and
#                PostgreSQL (fresh databases, dropped afterwards)
#   make chaos - the fault-injection suite (tests/chaos/): its own PostgreSQL cluster, two nodes, faults
#                under a vend load, invariants after each; about 5-10 minutes, needs root
#   make interop - the real-client matrix (tests/interop/): PHP SoapClient, node soap, suds, JAX-WS
#                wsimport and Mono wsdl each generate a client from the served WSDLs and run the
#                scenario; installs the missing toolchains first (Debian, npm, PyPI; needs root)

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
BIND   ?= 127.0.0.1:8080
CONSOLE_BIND ?= 127.0.0.1:8081
PYTEST_ARGS ?= -n 2

.PHONY: run test chaos interop lint wsdl sql bench clean catalogs

$(STAMP): setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

run: $(STAMP) catalogs
	$(BIN)/vendgw db upgrade
	$(BIN)/vendgw demo seed
	@echo "SOAP gateway:      http://$(BIND)/vend?wsdl"
	@echo "Back-office console: http://$(CONSOLE_BIND)/   (users: vendgw user add)"
	$(BIN)/vendgw console --bind $(CONSOLE_BIND) & console=$$!; \
	  trap 'kill $$console 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/vendgw serve --bind $(BIND)

test: $(STAMP) catalogs
	tests/ensure-postgres
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy core sts vendor_accounts gateway reconciliation vendgw
	$(BIN)/pytest $(PYTEST_ARGS)

# Not collected by `make test`: tests/chaos/conftest.py ignores its tests unless VENDGW_CHAOS=1.
# The timeout bounds the whole run (the suite's own loops are bounded too).
chaos: $(STAMP)
	VENDGW_CHAOS=1 timeout -k 30 900 $(BIN)/pytest -n 0 -v -s -p no:cacheprovider tests/chaos

# Not collected by `make test`: tests/interop/conftest.py ignores its tests unless VENDGW_INTEROP=1.
# tests/interop/install adds only what is missing; the timeout bounds the whole run.
interop: $(STAMP)
	tests/ensure-postgres
	tests/interop/install $(VENV)
	VENDGW_INTEROP=1 timeout -k 30 1200 $(BIN)/pytest -n 0 -v -p no:cacheprovider tests/interop

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy core sts vendor_accounts gateway reconciliation vendgw

# Regenerate the checked-in WSDL after changing the service (a test fails while it drifts).
wsdl: $(STAMP)
	$(BIN)/vendgw wsdl export
	$(BIN)/vendgw xmlvend-wsdl export

# Rewrite the golden SQL of the vend path (gateway/vend/sql/, vendor_accounts/sql/) after changing
# a statement (tests/gateway/test_vend_sql.py fails with the diff while they drift); review the
# diff before committing. The CreditVend sequence is captured on PostgreSQL.
sql: $(STAMP)
	tests/ensure-postgres
	VENDGW_WRITE_SQL=1 $(BIN)/pytest -n 0 -q -p no:cacheprovider tests/gateway/test_vend_sql.py

# The console's message catalogs: .po (checked in) -> .mo (built). After changing a page's
# messages: `$(BIN)/python -m vendgw.console.catalogs update`, translate, then this.
catalogs: $(STAMP)
	$(BIN)/python -m vendgw.console.catalogs compile

bench: $(STAMP)
	$(BIN)/python bench/sts_tokens.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
