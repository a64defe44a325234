# Vireo's front door. `make run` and `make test` each install what is missing (Debian packages only),
# configure and build, then run. PORTABLE=1 builds for generic x86-64; SANITIZE=1 builds with ASan+UBSan
# into its own folder. `make fuzz` builds the fuzz targets with clang in build-fuzz and runs each for
# FUZZ_SECONDS (default 60).
PORTABLE ?= 0
SANITIZE ?= 0
JOBS ?= $(shell nproc)

ifeq ($(SANITIZE),1)
  BUILD_DIR ?= build-sanitize
  BUILD_TYPE ?= RelWithDebInfo
else
  BUILD_DIR ?= build
  BUILD_TYPE ?= Release
endif
FUZZ_SECONDS ?= 60
NATIVE := $(if $(filter 1,$(PORTABLE)),OFF,ON)

.PHONY: all deps configure build run test fuzz clean

all: build

deps:
	@tools/setup/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DVIREO_NATIVE=$(NATIVE) -DVIREO_SANITIZE=$(if $(filter 1,$(SANITIZE)),ON,OFF) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The quickstart recipe: a small ResNet on Fashion-MNIST, its accuracy printed, its run folder in runs/quickstart.
run: build
	@$(BUILD_DIR)/bin/vireo train training/recipes/quickstart.yaml

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

fuzz:
	@tools/setup/install-deps.sh --fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) tools/fuzz/run_fuzz.sh

clean:
	rm -rf build build-sanitize build-fuzz
