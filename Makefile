# kiva — the two commands: `make run` serves the API, `make test` proves it.
# Both install what is missing (Debian packages), build, and do their job.

PORT      ?= 8080
PREFIX    ?= /api
PGPORT    ?= 5439
JOBS      ?= $(shell nproc)
BUILD     ?= build
BUILD_TYPE ?= RelWithDebInfo

DEPS = deploy/dev/install-deps.sh

.PHONY: all build install package run test unit security fuzz bench bench-apache deploy deploy-init rollback cluster cluster-fault cluster-status clean help

all: build

help:
	@echo "make install  the framework (library, headers, tools, SQL, deploy scripts, CMake package) into PREFIX (default /usr/local)"
	@echo "make package  the framework as a Debian package (build/kiva_<version>_<arch>.deb), checked by lintian"
	@echo "make run      build and serve http://127.0.0.1:$(PORT)$(PREFIX) (Postgres + worker + nginx)"
	@echo "make test     build and run every test (unit, integration, sanitizers, fuzz smoke, deployment)"
	@echo "make security sqlmap (--level 3 --risk 2) against the parameterized routes (also in make test)"
	@echo "make fuzz     long fuzzing runs (FUZZ_SECONDS per target, default 300)"
	@echo "make bench    benchmark through nginx against baselines measured in the same run"
	@echo "make bench-apache  the Apache section of make bench alone (mod_fcgid, mod_proxy_fcgi, Flask)"
	@echo "make deploy   build, test and ship to the target of deploy/deploy.local.conf (DRY_RUN=1 prints)"
	@echo "make deploy-init  create the schema on a new database (DEMO_DATA=1: demo rows and users, not for production)"
	@echo "make rollback put back the release before the running one (RELEASE=ID: a kept one)"
	@echo "make cluster  as root: HAProxy, 2 app hosts, Redis, PostgreSQL under Patroni (CLUSTER_DB=single: one) in network namespaces; http://127.0.0.1:8081/api"
	@echo "make cluster-fault FAULT=app1|app1-back|redis|redis-back|db-primary|db-primary-back  a fault in the running cluster"
	@echo "make cluster-status  each host of the running cluster: nginx, the HTTP worker, the jobs worker, the balancer's state"
	@echo "make clean    remove build directories (not var/, the dev database)"

build:
	@$(DEPS) build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# PREFIX on the command line is where `make install` puts the framework; otherwise it is the
# API's mount point for make run (/api), and install goes to /usr/local.
INSTALL_PREFIX = $(if $(filter command line environment,$(origin PREFIX)),$(if $(filter /api,$(PREFIX)),/usr/local,$(PREFIX)),/usr/local)
install: build
	@cmake --install $(BUILD) --prefix $(INSTALL_PREFIX) >/dev/null
	@echo "kiva installed in $(INSTALL_PREFIX) (find_package(kiva): -DCMAKE_PREFIX_PATH=$(INSTALL_PREFIX))"

package: build
	@$(DEPS) package
	@deb=$$(framework/packaging/build-deb.sh $(BUILD)) && lintian --fail-on error "$$deb" && echo "$$deb"

# Recipes that run a long script `exec` it: the script is then make's own child, so the
# SIGTERM make forwards reaches it (a shell in between would die and leave it running).
run:
	@$(DEPS) build run docs
	@deploy/dev/install-node-tools.sh
	@$(MAKE) --no-print-directory build
	@exec env PORT=$(PORT) PREFIX=$(PREFIX) PGPORT=$(PGPORT) KIVA=$(CURDIR)/$(BUILD)/kiva \
	  PASSWORD_MIN_LENGTH=$${PASSWORD_MIN_LENGTH:-4} deploy/dev/stack.sh

test:
	@$(DEPS) build run test deploy cluster docs ha package bench_short
	@deploy/dev/install-node-tools.sh
	@tests/run-all.sh

unit: build
	@$(BUILD)/unit_tests --report_level=short

security: build
	@$(DEPS) run test
	@python3 tests/security/sqlmap.py $(BUILD)

fuzz:
	@$(DEPS) build fuzz
	@exec env FUZZ_SECONDS=$${FUZZ_SECONDS:-300} tests/fuzz/run.sh

bench:
	@$(DEPS) build run bench docs
	@bench/run.sh

bench-apache:
	@$(DEPS) build run bench
	@exec env BENCH_ONLY=apache BENCH_FCGID_RUNS=$${BENCH_FCGID_RUNS:-20} bench/run.sh

# Deployment (deploy/README.md): DEPLOY_CONF=FILE (default deploy/deploy.local.conf),
# DRY_RUN=1 prints every command and runs none; deploy-init: DEMO_DATA=1 adds the demo rows and users;
# ALLOW_DIRTY=1 deploys a working tree with changes; rollback: RELEASE=ID (deploy.sh status).
# Only the build packages are installed here: a developer's machine needs ssh and rsync,
# not the servers of the deploy package group.
DEPLOY_CONF ?= deploy/deploy.local.conf
deploy:
	@$(DEPS) build
	@exec env DEPLOY_CONF="$(DEPLOY_CONF)" DRY_RUN="$(DRY_RUN)" ALLOW_DIRTY="$(ALLOW_DIRTY)" deploy/deploy.sh deploy

deploy-init:
	@$(DEPS) build
	@exec env DEPLOY_CONF="$(DEPLOY_CONF)" DRY_RUN="$(DRY_RUN)" ALLOW_DIRTY="$(ALLOW_DIRTY)" DEMO_DATA="$(DEMO_DATA)" deploy/deploy.sh init

rollback:
	@exec env DEPLOY_CONF="$(DEPLOY_CONF)" DRY_RUN="$(DRY_RUN)" deploy/deploy.sh rollback $(RELEASE)

# The scaled-out topology (deploy/README.md, "Several application hosts"), as root: built in
# network namespaces kc-* (10.77.0.0/16), deployed with the shipped scripts, served in the
# foreground until Ctrl-C or SIGTERM, which removes all of it. CLUSTER_PORT=8081.
cluster:
	@$(DEPS) build cluster ha
	@exec env CLUSTER_PORT=$${CLUSTER_PORT:-8081} deploy/dev/cluster.sh up

cluster-fault:
	@exec deploy/dev/cluster.sh fault $(FAULT)

cluster-status:
	@exec deploy/dev/cluster.sh status

clean:
	rm -rf build build-*
