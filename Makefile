# iscsdk — see README.md. `make demo` and `make test` are the two commands.
GO      ?= go
BUILD   ?= build
VERSION := 0.1.0
SOMAJOR := 0

export CGO_ENABLED := 1

.PHONY: all build bin lib examples test demo bench clean

all: build

build: bin lib examples

bin:
	$(GO) build -trimpath -o $(BUILD)/bin/ ./cmd/iscd ./cmd/iscctl

# lib, examples: see the C section below.

clean:
	rm -rf $(BUILD)
