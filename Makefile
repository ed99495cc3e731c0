# The two commands a newcomer needs: `make demo` and `make test`. Both install missing Debian
# packages first (idempotent), then build.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: deps
	$(MAKE) build
	$(BUILD_DIR)/bin/chorusd --demo

test: deps
	$(MAKE) build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 900 -j 2

bench: deps
	$(MAKE) build
	scripts/run-bench.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)

# The Debian package: $(BUILD_DIR)/chorus_<version>-1_<arch>.deb, then `apt install ./build/chorus_*.deb`.
.PHONY: package
package: deps
	$(MAKE) build
	cd $(BUILD_DIR) && cpack -G DEB
