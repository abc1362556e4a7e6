# Front door. `make demo` and `make test` are the README's two commands; both
# install what is missing (scripts/setup) and build first.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: all setup configure build test unit demo bench format clean

all: build

setup:
	@scripts/setup

configure: setup
	@cmake --preset default -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Every tier: unit, bpf (privileged), accuracy. WEFT_REQUIRE_BPF=1 turns a
# privileged skip into a failure (CI sets it).
test: build
	@scripts/test

unit: build
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -LE 'bpf|accuracy' -j $(JOBS)

demo: build
	@scripts/demo

bench: build
	@bench/run

format:
	@git ls-files '*.cc' '*.h' '*.c' | xargs clang-format -i

clean:
	@rm -rf $(BUILD_DIR)
