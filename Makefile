# iscsdk — see README.md. `make demo` and `make test` are the two commands.
GO      ?= go
BUILD   ?= build
VERSION := 0.1.0
# COMMIT: what `iscd version` and the images' labels name ("+dirty": built
# from a tree with uncommitted changes; empty outside a git checkout).
COMMIT  := $(shell git rev-parse HEAD 2>/dev/null)$(shell git rev-parse HEAD >/dev/null 2>&1 && { git diff --quiet HEAD -- 2>/dev/null || echo +dirty; })
SOMAJOR := 0

export CGO_ENABLED := 1

.PHONY: all build bin lib examples plugin test demo bench clean

all: build

build: bin lib examples plugin

# bin: iscd and iscctl are built with CGO_ENABLED=0 (the export above is for
# the C library): neither needs cgo — native solver plugins are loaded with
# purego — so `iscd worker` is the pure-Go binary workers run
# (internal/worker's process tests build it so too).
bin:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.commit=$(COMMIT)" -o $(BUILD)/bin/ ./cmd/iscd ./cmd/iscctl

# lib, examples: see the C section below.

clean:
	rm -rf $(BUILD)

# ---- C side: the library, its examples and their tests -------------------
# lib:        build/lib/libiscsdk.so.$(VERSION) (soname libiscsdk.so.$(SOMAJOR))
#             and its symlinks; exports the iscsdk_* names only.
# examples:   build/bin/console_c, console_cpp, cloud_files, cloud_solve and upgrade, linked against it.
# test-c:     the C ABI tests (capi/cabitest) against build/lib and build/bin.
# test-cmake: the CMake build, its ctest tests, install into a temporary
#             prefix, and a consumer project built against that install.
LIBDIR  := $(BUILD)/lib
LIBSO   := libiscsdk.so.$(VERSION)
LIBMAP  := $(CURDIR)/capi/libiscsdk.map
CFLAGS_STRICT   := -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude
CXXFLAGS_STRICT := -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude
LDFLAGS_EXAMPLE := -L$(LIBDIR) -liscsdk -Wl,-rpath,'$$ORIGIN/../lib'

.PHONY: test-c test-cmake test-backends

lib:
	$(GO) build -trimpath -buildmode=c-shared \
		-ldflags "-s -w -extldflags '-Wl,-soname,libiscsdk.so.$(SOMAJOR) -Wl,--version-script=$(LIBMAP)'" \
		-o $(LIBDIR)/$(LIBSO) ./capi
	rm -f $(LIBDIR)/*.h
	ln -sf $(LIBSO) $(LIBDIR)/libiscsdk.so.$(SOMAJOR)
	ln -sf libiscsdk.so.$(SOMAJOR) $(LIBDIR)/libiscsdk.so

examples: lib
	@mkdir -p $(BUILD)/bin
	$(CC) $(CFLAGS_STRICT) examples/c/console.c -o $(BUILD)/bin/console_c $(LDFLAGS_EXAMPLE)
	$(CXX) $(CXXFLAGS_STRICT) examples/cpp/console.cpp -o $(BUILD)/bin/console_cpp $(LDFLAGS_EXAMPLE)
	$(CC) $(CFLAGS_STRICT) examples/c/cloud_files.c -o $(BUILD)/bin/cloud_files $(LDFLAGS_EXAMPLE)
	$(CC) $(CFLAGS_STRICT) examples/c/cloud_solve.c -o $(BUILD)/bin/cloud_solve $(LDFLAGS_EXAMPLE)
	$(CC) $(CFLAGS_STRICT) examples/c/upgrade.c -o $(BUILD)/bin/upgrade $(LDFLAGS_EXAMPLE)

test-c: lib bin
	ISCSDK_BUILD_DIR=$(abspath $(BUILD)) $(GO) test -count=1 ./capi/...

test-cmake:
	BUILD=$(abspath $(BUILD)) GO=$(GO) tests/cmake/run.sh

# plugin: build/lib/libheat_solver.so, the example native solver plugin
# (examples/solver-plugin, include/iscsdk/solver_plugin.h). Its tests, and
# those of the loader, are in internal/solver/plugin: make test runs them
# with cgo and again with CGO_ENABLED=0, as the worker is built.
plugin:
	@mkdir -p $(LIBDIR)
	$(CC) -shared -fPIC -O2 -std=c99 -Wall -Wextra -Werror -Iinclude examples/solver-plugin/heat.c \
		-o $(LIBDIR)/libheat_solver.so -lm

# ---- Windows: the mingw-w64 cross-build (make windows) --------------------
# build/windows/: iscsdk.dll, its import library iscsdk.lib (from
# capi/iscsdk.def), console_c.exe and console_cpp.exe. The DLL's only imports
# are system DLLs: libgcc (and libwinpthread, if the compiler uses it) are
# linked statically. Go's own c-shared link would also export the internal
# isc_go_* names (it hands the linker a .def of every cgo export), so the
# library is built as a c-archive and linked here with capi/iscsdk.def: the
# DLL exports exactly the header's functions.
WINDIR      := $(BUILD)/windows
MINGW       ?= x86_64-w64-mingw32-
WIN_CC      := $(MINGW)gcc
WIN_CXX     := $(MINGW)g++
WIN_DLLTOOL := $(MINGW)dlltool
WIN_GOENV   := CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=$(WIN_CC) CXX=$(WIN_CXX)
WIN_LDFLAGS := -s -Wl,--tsaware -Wl,--nxcompat -Wl,--dynamicbase -Wl,--high-entropy-va \
	-Wl,--no-insert-timestamp -static-libgcc -static
WIN_TESTS   := tests/windows

.PHONY: windows test-windows

windows:
	@mkdir -p $(WINDIR)/obj
	$(WIN_GOENV) $(GO) build -trimpath -buildmode=c-archive -ldflags "-s -w" -o $(WINDIR)/obj/libiscsdk.a ./capi
	rm -f $(WINDIR)/obj/*.h
	$(WIN_CC) -shared -o $(WINDIR)/iscsdk.dll capi/iscsdk.def $(WINDIR)/obj/libiscsdk.a $(WIN_LDFLAGS) \
		-Wl,--start-group -lmingwex -lmingw32 -Wl,--end-group -lkernel32
	cd $(WINDIR) && $(WIN_DLLTOOL) -d $(CURDIR)/capi/iscsdk.def -D iscsdk.dll -l iscsdk.lib
	$(WIN_CC) $(CFLAGS_STRICT) examples/c/console.c -o $(WINDIR)/console_c.exe $(WINDIR)/iscsdk.lib $(WIN_LDFLAGS)
	$(WIN_CXX) $(CXXFLAGS_STRICT) examples/cpp/console.cpp -o $(WINDIR)/console_cpp.exe $(WINDIR)/iscsdk.lib \
		$(WIN_LDFLAGS) -static-libstdc++

# test-windows: the Windows build checked with binutils, then run under Wine
# against iscd on Linux loopback (capi/winetest, run here only: `make test`
# leaves it out of its ./... run). Without mingw-w64 it is skipped, and
# without Wine its Wine tests are, saying what to install.
WINE_PKGS := gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine64
NATIVE_PKGS = $(shell $(GO) list ./... | grep -v /capi/winetest)

test-windows:
	@if ! command -v $(WIN_CC) >/dev/null || ! command -v $(WIN_CXX) >/dev/null; then \
		echo "test-windows: SKIPPED: mingw-w64 not found (apt-get install $(WINE_PKGS))"; exit 0; fi; \
	if ! command -v wine64 >/dev/null && ! test -x /usr/lib/wine/wine64; then \
		echo "test-windows: Wine not found: the Wine tests are SKIPPED (apt-get install wine64)"; fi; \
	$(MAKE) windows && CGO_ENABLED=0 $(GO) build -trimpath -o $(BUILD)/bin/ ./cmd/iscd && \
	ISCSDK_BUILD_DIR=$(abspath $(BUILD)) $(GO) test -count=1 ./capi/winetest

# ---- the two commands of the README --------------------------------------
# test-cross: iscd (serve and worker) and iscctl build for Windows and macOS
# (no cgo: a compile check; the Windows worker's sandbox is tested under Wine
# by test-windows).
.PHONY: test-cross
test-cross:
	GOOS=windows CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/iscd
	GOOS=windows CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/iscctl
	GOOS=darwin CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/iscd
	GOOS=darwin CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/iscctl

# test: everything, as CI runs it: vet, the Go tests with the race detector
# (the C ABI tests among them, against build/), a short fuzz of every
# decoder of untrusted input, and the CMake build/install/consumer test.
# A number of runs, not a duration: a duration that ends while the fuzzer
# minimises a new input fails with "context deadline exceeded" (a Go quirk,
# not a finding).
FUZZTIME ?= 50000x

test: build
	$(GO) vet ./...
	$(MAKE) test-cross
	ISCSDK_BUILD_DIR=$(abspath $(BUILD)) $(GO) test -race -count=1 $(NATIVE_PKGS)
	CGO_ENABLED=0 $(GO) test -count=1 ./internal/solver/plugin
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./internal/wire
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeFrame$$' -fuzztime=$(FUZZTIME) ./internal/wire
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./internal/license
	$(GO) test -run='^$$' -fuzz='^FuzzSignedPayload$$' -fuzztime=$(FUZZTIME) ./internal/license
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./internal/manifest
	$(GO) test -run='^$$' -fuzz='^FuzzSMBIOS$$' -fuzztime=$(FUZZTIME) ./internal/device
	$(MAKE) test-backends
	$(MAKE) test-cmake
	$(MAKE) test-windows

# test-backends: the end-to-end tests once more with every test iscd on
# PostgreSQL and an S3 object store (versitygw), the scale-out backends:
# one suite, two backends (the race detector ran them in the first pass).
# Without PostgreSQL's server binaries or versitygw they skip, saying so.
BACKEND_PKGS := ./sdk/ ./internal/server/... ./internal/worker/ ./cmd/iscctl/
test-backends:
	ISCSDK_BUILD_DIR=$(abspath $(BUILD)) ISCD_TEST_DATABASE=postgres ISCD_TEST_BLOBS=s3 $(GO) test -count=1 $(BACKEND_PKGS)

demo: build
	scripts/demo.sh

# bench: the benchmarks (cmd/iscbench; docs/benchmarks.md says what each
# figure means): a table on stdout and build/bench.json. BENCH_QUICK=1 runs
# the reduced set in under two minutes. Not part of make test.
# As root it installs the peers it compares with (rsync, rclone) when they
# are missing; toxiproxy (the shaped-link group's round trips) goes to
# $(BUILD)/tools like versitygw.
bench: build
	@if [ "$$(id -u)" = 0 ] && ! (command -v rsync && command -v rclone) >/dev/null; then \
		apt-get install -y rsync rclone >/dev/null || echo "bench: could not install rsync and rclone"; fi
	@[ -x $(BUILD)/tools/toxiproxy-server ] || { GOBIN=$(abspath $(BUILD))/tools $(GO) install github.com/Shopify/toxiproxy/v2/cmd/server@v2.5.0 && \
		mv $(BUILD)/tools/server $(BUILD)/tools/toxiproxy-server; }
	$(GO) build -trimpath -o $(BUILD)/bin/iscbench ./cmd/iscbench
	$(BUILD)/bin/iscbench -build $(BUILD) -out $(BUILD)/bench.json

# ---- deployment: container images and the Helm chart (docs/deploy.md) ----
# images:       localhost/iscd, iscd-worker, iscd-postgresql and iscd-versitygw
#               :$(VERSION), FROM scratch with podman; root file systems from
#               this machine's Debian packages (deploy/images).
# deploy-tools: helm and kubeconform (Go programs, pinned) into build/tools,
#               and the Kubernetes $(K8S_VERSION) JSON schemas kubeconform
#               validates against, made from the API's OpenAPI document in
#               the k8s.io/kubernetes module (deploy/kubeschema).
# test-deploy:  the chart (helm lint, helm template + kubeconform per values
#               file), the images, and the rendered manifests run with
#               podman kube play (tests/deploy). Without podman the podman
#               tests skip, saying so.
HELM_VERSION        := v4.3.2
KUBECONFORM_VERSION := v0.7.0
K8S_VERSION         := 1.34.4
TOOLS               := $(abspath $(BUILD))/tools
KUBESCHEMAS         := $(abspath $(BUILD))/k8s-schemas/v$(K8S_VERSION)-standalone-strict
.PHONY: images test-deploy deploy-tools

images: bin
	deploy/images/build.sh $(abspath $(BUILD)) $(VERSION) $(COMMIT)

deploy-tools:
	@[ "$$($(TOOLS)/helm version --template '{{.Version}}' 2>/dev/null)" = $(HELM_VERSION) ] || \
		GOBIN=$(TOOLS) $(GO) install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)
	@[ "$$($(TOOLS)/kubeconform -v 2>/dev/null)" = $(KUBECONFORM_VERSION) ] || \
		GOBIN=$(TOOLS) $(GO) install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
	@[ -f $(KUBESCHEMAS)/deployment-apps-v1.json ] || { \
		dir=$$($(GO) mod download -json k8s.io/kubernetes@v$(K8S_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p') && \
		$(GO) run ./deploy/kubeschema -spec "$$dir/api/openapi-spec/swagger.json" -out $(KUBESCHEMAS); }

test-deploy: deploy-tools
	@if command -v podman >/dev/null; then $(MAKE) images lib examples; else \
		echo "test-deploy: podman not found: the image and pod tests are SKIPPED (apt-get install podman runc catatonit; docs/deploy.md)"; fi
	ISCSDK_BUILD_DIR=$(abspath $(BUILD)) ISCD_TEST_DEPLOY=1 ISCD_K8S_VERSION=$(K8S_VERSION) \
		$(GO) test -count=1 -timeout 20m -v ./tests/deploy
