# Mimicare front door. The real build is CMake; see README.md.
#   make run    install dependencies, build, migrate, seed the demo clinic, serve on :8000
#   make test   install test dependencies, start PostgreSQL + Redis, run every test
#               against SQLite and PostgreSQL, stop the servers
BUILD ?= build
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build run test test-sanitize fuzz bench format clean deps

all: build

deps:
	scripts/deps.sh build

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DMC_TESTS=OFF >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/mimicare migrate
	$(BUILD)/mimicare seed --demo
	exec $(BUILD)/mimicare serve

test:
	scripts/test.sh

test-sanitize:
	BUILD_DIR=build-asan CMAKE_ARGS="-DMC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug" scripts/test.sh

fuzz:
	scripts/fuzz.sh

bench:
	bench/http.sh

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h')

clean:
	rm -rf build build-asan build-fuzz
