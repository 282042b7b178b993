# verso's build and test entry points. `make test` is what CI runs (through
# .ci/run, which first installs litmus, curl and ansible on Debian, and then
# runs `make fuzz`).

GO ?= go

.PHONY: test vet fmt-check staticcheck go-test litmus test-etcd build run fuzz

## test: go vet, the gofmt check, staticcheck, the Go tests with -race,
## litmus, then the HTTP tests and litmus again on the etcd store
test: vet fmt-check staticcheck go-test litmus test-etcd

vet:
	$(GO) vet ./...

# gofmt -l lists files whose formatting differs; any listed file fails.
fmt-check:
	@files=$$(gofmt -l .); \
	if [ -n "$$files" ]; then \
		echo "gofmt -l: these files need gofmt -w:"; echo "$$files"; exit 1; \
	fi

## staticcheck: the pinned staticcheck over every package; go run fetches
## and builds that version through the module proxy on a fresh machine
## (about a minute the first time, cached after). Bump the version when a
## new Go release needs it.
STATICCHECK_VERSION ?= v0.8.2
staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

go-test:
	$(GO) test -race ./...

litmus:
	bash scripts/litmus.sh

## test-etcd: the server's HTTP tests (-race) and litmus on the etcd store,
## each against an etcd started in-process (docs/CLUSTER.md, Testing).
## -count=1: the tests read VERSO_TEST_STORE in TestMain, before go test
## records the environment a test reads, so a cached result of the bolt
## run would otherwise stand in for this one.
test-etcd:
	VERSO_TEST_STORE=etcd $(GO) test -race -count=1 ./server/
	bash scripts/litmus.sh --store etcd

## fuzz: every fuzz target for FUZZTIME executions each; a finding fails and
## leaves its input in the package's testdata/fuzz/TARGET/ (make it a test).
## A count, not a duration: Go 1.26's fuzz coordinator can fail a run bounded
## by time at its deadline with no finding (golang/go#75804).
FUZZTIME ?= 20000x
FUZZ_TARGETS = \
	.:FuzzParsePath .:FuzzParseRevision \
	internal/dav:FuzzReadPropfind internal/dav:FuzzReadProppatch \
	internal/dav:FuzzReadLockInfo internal/dav:FuzzParseIfHeader \
	server:FuzzGetParams server:FuzzTxn server:FuzzLane \
	bolt:FuzzCheckCorrupt bolt:FuzzOpenCorrupt \
	auth:FuzzParseUsers internal/authz:FuzzParse \
	svn:FuzzParseDocument svn:FuzzParseURI svn:FuzzReport \
	svn:FuzzSkel svn:FuzzPropertyUpdate \
	internal/svndiff:FuzzSvndiff internal/svndump:FuzzLoad \
	internal/codec:FuzzDecodeCommitFast internal/codec:FuzzEncodeCommitFast
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
