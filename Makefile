# The two commands a new user needs:  make demo  (the moons model, full size)  and  make test.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-gallery test-slow lint site lab bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(BIN)/bnngallery run moons --method all

# on both cores, each test file on one worker (its module fixtures built once)
test: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile

# the gallery notebooks executed in smoke mode, the smoke site built and opened in headless Chromium
# (the tests marked gallery; minutes); make test leaves them out, CI runs both
test-gallery: setup
	$(BIN)/python -m pytest -m gallery

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test-slow: setup
	$(BIN)/python -m pytest -m slow

lab: setup
	@bash scripts/lab.sh

# the gallery site at full size (make site SMOKE=1: tiny fits, a quick build); gallery/_build/site/html/index.html
site: setup
	$(BIN)/python -m bnngallery.runs.gallery $(if $(SMOKE),--smoke,)

bench: setup
	$(BIN)/python benchmarks/advi_speed.py

clean:
	rm -rf out gallery/_build .pytest_cache
