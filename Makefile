# orcs — the Makefile only wraps set-up, build, run and test; CMake builds.
#   make deps    install missing Debian packages (apt-get; no-op when present)
#   make         release build in build/ (the program is build/orcs)
#   make test    deps + ASan+UBSan build in build-asan/ + ctest
#   make demo    deps + release build + the end-to-end demo
#   make bench   deps + release build + benchmarks (JSON lines); ONLY=NAME
#   make fuzz    libFuzzer targets under clang in build-fuzz/ (FUZZ_RUNS=N)

PACKAGES := build-essential cmake pkg-config python3-protobuf nanopb \
	libnanopb-dev libzmq3-dev libczmq-dev libmsgpack-dev liblmdb-dev \
	libcurl4-openssl-dev libjansson-dev libyaml-dev libmicrohttpd-dev \
	libsodium-dev libcmocka-dev libseccomp-dev libjemalloc-dev curl
FUZZ_PACKAGES := clang libclang-rt-14-dev
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ONLY ?=
FUZZ_RUNS ?= 1000000

.PHONY: all deps release asan test demo bench fuzz fuzz-deps format clean

all: release

# dpkg-query lists what is installed; apt-get runs only when something is missing.
deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" \
	    || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	else echo "deps: all packages present"; fi

fuzz-deps:
	@missing=""; for p in $(FUZZ_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" \
	    || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; fi

release: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
	cmake --build build -j $(JOBS)

asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DORCS_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)

test: asan
	cd build-asan && ctest --output-on-failure -j $(JOBS)

demo: release
	./examples/demo.sh build/orcs

bench: release
	./bench/run.sh build $(ONLY)

fuzz: deps fuzz-deps
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DORCS_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS)
	./tests/fuzz/run.sh build-fuzz $(FUZZ_RUNS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz
