# verso's build and test entry points. `make test` is what CI runs (through
# .ci/run, which first installs litmus and curl on Debian).

GO ?= go

.PHONY: test vet fmt-check go-test litmus build run fuzz

## test: go vet, the gofmt check, the Go tests with -race, then litmus
test: vet fmt-check go-test litmus

vet:
	$(GO) vet ./...

# gofmt -l lists files whose formatting differs; any listed file fails.
fmt-check:
	@files=$$(gofmt -l .); \
	if [ -n "$$files" ]; then \
		echo "gofmt -l: these files need gofmt -w:"; echo "$$files"; exit 1; \
	fi

go-test:
	$(GO) test -race ./...

litmus:
	bash scripts/litmus.sh

## fuzz: every fuzz target for FUZZTIME each (CI: 5s); a finding fails and
## leaves its input in the package's testdata/fuzz/TARGET/ (make it a test)
FUZZTIME ?= 5s
FUZZ_TARGETS = \
	.:FuzzParsePath .:FuzzParseRevision \
	server:FuzzReadPropfind server:FuzzReadProppatch server:FuzzReadLockInfo \
	server:FuzzParseIfHeader server:FuzzGetParams server:FuzzTxn \
	auth:FuzzParseUsers internal/authz:FuzzParse
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "go test -run '^$$' -fuzz '^$$name\$$' -fuzztime=$(FUZZTIME) ./$$pkg"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime=$(FUZZTIME) ./$$pkg; \
	done

## build: the binary in bin/verso
build:
	$(GO) build -o bin/verso ./cmd/verso

## run: verso serve from the source (flags through ARGS="--listen 127.0.0.1:9090")
run:
	$(GO) run ./cmd/verso serve $(ARGS)
