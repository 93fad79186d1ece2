# 狼煙 Noroshi — the two set-up commands:
#   make run    create the environment, install, start the demo (broker, worker, board, drill)
#   make test   install what the tests need and run the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: run test bench bench-replay bench-board browser clean

$(BIN)/noroshi: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,avatars,embedded]'
	touch $@

run: $(BIN)/noroshi
	$(BIN)/noroshi run --demo

# The board's browser tests drive Debian's chromium; Japanese fonts make its screenshots readable.
# They inject axe-core (pinned in tests/browser/package-lock.json) into every page: `npm ci` puts it
# in tests/browser/node_modules.
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else \
	    echo "note: install chromium (apt-get install chromium fonts-noto-cjk) to run the browser tests"; \
	  fi; \
	fi
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error; \
	else \
	  echo "note: install node and npm to run the board's accessibility check (axe-core)"; \
	fi

test: $(BIN)/noroshi browser
	$(BIN)/pytest

bench: $(BIN)/noroshi
	$(BIN)/python bench/pipeline.py

bench-replay: $(BIN)/noroshi
	$(BIN)/python bench/replay.py

bench-board: $(BIN)/noroshi
	$(BIN)/python bench/board_sse.py

clean:
	rm -rf $(VENV) var .pytest_cache *.egg-info tests/browser/node_modules
