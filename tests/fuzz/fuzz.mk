# SPDX-License-Identifier: BSD-3-Clause
# Coverage-guided fuzzing of derpd's parsers and input surfaces: clang's libFuzzer
# with ASan+UBSan. Included by the top-level Makefile; run from the repo root.
#
#   make fuzz-deps      install the Debian packages the fuzzers need
#   make fuzz           build every fuzzer and run each for FUZZ_SECONDS
#   make fuzz-regress   replay the seed corpora and kept crashes (seconds)
#   make fuzz-short     fuzz-regress, then every fuzzer from its seeds for a
#                       fixed number of runs with a fixed seed (make test)
#   make build-fuzz/fuzz_http   build one fuzzer
#
# Seeds live in tests/fuzz/corpus/<target>/ and are never written to: `fuzz`
# copies them into build-fuzz/corpus/<target>/ and the fuzzer grows that copy
# (it persists between runs). Crashes land in build-fuzz/artifacts/; keep the
# ones worth keeping in tests/fuzz/crashes/ as <target minus fuzz_>_<what>
# (fuzz-regress replays them). To reproduce one:
#   ./build-fuzz/fuzz_ring tests/fuzz/crashes/<file>

# Keeps the including Makefile's default goal (`all`) wherever this is included.
fuzz_saved_default_goal := $(.DEFAULT_GOAL)

# Debian bookworm: clang-14 is the compiler; libFuzzer itself
# (libclang_rt.fuzzer-x86_64.a, what -fsanitize=fuzzer links) and the
# sanitizer runtimes ship in libclang-rt-14-dev. (libfuzzer-14-dev is only the
# standalone libFuzzer.a, not needed.) The rest are the libraries the parsers
# under test call.
FUZZ_APT_PKGS = clang-14 libclang-rt-14-dev pkg-config libssl-dev \
		libsodium-dev libjansson-dev libwslay-dev zlib1g-dev \
		libseccomp-dev libcap-ng-dev

FUZZ_CC	     ?= clang-14
FUZZ_SECONDS ?= 30
FUZZ_DIR      = build-fuzz
FUZZ_TARGETS  = fuzz_http fuzz_frames fuzz_clientinfo fuzz_keyfile fuzz_ring \
		fuzz_table fuzz_stun fuzz_client_derp fuzz_client_http fuzz_client_stun \
		fuzz_client_msg fuzz_acme fuzz_certmsg fuzz_keyd_acme fuzz_rateconf \
		fuzz_flags fuzz_keyd fuzz_tablesrv fuzz_dns fuzz_serve fuzz_login fuzz_ws \
		fuzz_allowlist fuzz_verifyd_proto fuzz_verifier_answer \
		fuzz_meshpeers fuzz_dial fuzz_linkparse fuzz_tlsrec

FUZZ_PKGS     = openssl libsodium jansson zlib libseccomp libcap-ng
FUZZ_CFLAGS   = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer -g -O1 -std=gnu11 -D_GNU_SOURCE \
		-Wall -Wextra -Wno-missing-field-initializers \
		-Icommon -Iworker -Imaster -Iclient -Iacme
# Recursive (=): expanded when a recipe runs, i.e. after fuzz-deps.
FUZZ_PKG_FLAGS = $(shell pkg-config --cflags --libs $(FUZZ_PKGS))

# The project sources each harness compiles in (nothing else is linked).
FUZZ_SRC_fuzz_http	 = worker/http.c
FUZZ_SRC_fuzz_frames	 = common/frame.c
FUZZ_SRC_fuzz_clientinfo = worker/clientinfo.c common/keyfmt.c
FUZZ_SRC_fuzz_keyfile	 = common/keyfmt.c common/keyfile.c
FUZZ_SRC_fuzz_ring	 = common/ring.c common/pool.c
FUZZ_SRC_fuzz_table	 = common/table.c
FUZZ_SRC_fuzz_stun	 = common/stun.c
FUZZ_SRC_fuzz_client_derp = client/derpmsg.c common/frame.c
FUZZ_SRC_fuzz_client_http = client/httpparse.c
FUZZ_SRC_fuzz_client_stun = client/stunc.c common/stun.c
FUZZ_SRC_fuzz_client_msg  = client/streamfmt.c client/chatmsg.c
FUZZ_SRC_fuzz_acme	 = acme/parse.c common/b64url.c
FUZZ_SRC_fuzz_certmsg	 = common/acme_proto.c common/certshm.c
FUZZ_SRC_fuzz_keyd_acme	 = master/keyproc_acme.c master/keyring.c acme/x509.c \
			   acme/parse.c common/b64url.c tests/fuzz/fuzz_log.c
# Daemon code logs through tests/fuzz/fuzz_log.c: quiet, and fatal() returns
# to the harness.
FUZZ_SHM_SRC		 = common/shm.c common/table.c common/ring.c common/pool.c \
			   tests/fuzz/fuzz_log.c
FUZZ_SRC_fuzz_rateconf	 = master/rateconf.c $(FUZZ_SHM_SRC)
FUZZ_SRC_fuzz_flags	 = tests/fuzz/fuzz_log.c
# The key process (its answers only: keyproc_answer), and what its file
# pulls in: its other sockets, its TLS keys, the CSRs it makes.
FUZZ_KEYPROC_DEPS	 = master/keyproc.c master/keyproc_ctl.c master/keyproc_acme.c \
			   master/keyring.c master/selfsign.c acme/x509.c acme/parse.c \
			   common/b64url.c
FUZZ_KEYPROC_SRC	 = $(FUZZ_KEYPROC_DEPS) common/keyfile.c common/keyfmt.c \
			   common/privdrop.c common/probe.c common/sandbox.c \
			   common/setup.c
FUZZ_SRC_fuzz_keyd	 = $(FUZZ_KEYPROC_SRC) $(FUZZ_SHM_SRC)
FUZZ_SRC_fuzz_tablesrv	 = master/tablesrv.c $(FUZZ_SHM_SRC)
FUZZ_SRC_fuzz_dns	 = master/dnsd_json.c tests/fuzz/fuzz_log.c
# The worker's surfaces: a whole worker in the harness's process.
FUZZ_WORKER_SRC	 = $(filter-out worker/main.c,$(WORKER_SRC)) \
			   $(filter-out common/log.c,$(COMMON_SRC)) master/flags.c \
			   master/tablesrv.c $(FUZZ_KEYPROC_DEPS) tests/fuzz/fuzz_log.c \
			   tests/fuzz/fuzz_worker.c
FUZZ_SRC_fuzz_serve	 = $(FUZZ_WORKER_SRC)
FUZZ_SRC_fuzz_login	 = $(FUZZ_WORKER_SRC)
FUZZ_SRC_fuzz_ws	 = $(FUZZ_WORKER_SRC)
# Sources a harness #includes (to catch exit() and the like), for make.
FUZZ_INC_fuzz_flags	 = master/flags.c
FUZZ_SRC_fuzz_allowlist	 = common/allowlist.c common/keyfmt.c
FUZZ_SRC_fuzz_verifyd_proto = common/verifyd_proto.c
FUZZ_SRC_fuzz_verifier_answer = master/verifier_answer.c common/keyfmt.c
FUZZ_SRC_fuzz_meshpeers	 = common/meshpeers.c
FUZZ_SRC_fuzz_dial	 = common/dial_proto.c
FUZZ_SRC_fuzz_linkparse	 = worker/linkparse.c common/frame.c
FUZZ_SRC_fuzz_tlsrec	 = worker/tlsrec.c

# libFuzzer options per target: -max_len reaches just past each parser's size
# limit (HTTP_MAX_HEAD 16384, KEYFILE_MAX 4096). A table reader that does not
# return within -timeout seconds is a finding (it must never wait).
FUZZ_OPTS_fuzz_http	  = -max_len=16500 -dict=tests/fuzz/dict/fuzz_http.dict
FUZZ_OPTS_fuzz_frames	  = -max_len=8192
FUZZ_OPTS_fuzz_clientinfo = -max_len=4096 -dict=tests/fuzz/dict/fuzz_clientinfo.dict
FUZZ_OPTS_fuzz_keyfile	  = -max_len=4200 -dict=tests/fuzz/dict/fuzz_keyfile.dict
FUZZ_OPTS_fuzz_ring	  = -max_len=4096
FUZZ_OPTS_fuzz_table	  = -max_len=2048 -timeout=10
FUZZ_OPTS_fuzz_stun	  = -max_len=2100
FUZZ_OPTS_fuzz_client_derp = -max_len=70000
FUZZ_OPTS_fuzz_client_http = -max_len=16500 -dict=tests/fuzz/dict/fuzz_http.dict
FUZZ_OPTS_fuzz_client_stun = -max_len=600
FUZZ_OPTS_fuzz_client_msg  = -max_len=17000
FUZZ_OPTS_fuzz_acme	  = -max_len=4096 -dict=tests/fuzz/dict/fuzz_acme.dict
FUZZ_OPTS_fuzz_certmsg	  = -max_len=34000
FUZZ_OPTS_fuzz_keyd_acme  = -max_len=512
FUZZ_OPTS_fuzz_rateconf	  = -max_len=1024 -dict=tests/fuzz/dict/fuzz_rateconf.dict
FUZZ_OPTS_fuzz_keyd	  = -max_len=4096
FUZZ_OPTS_fuzz_tablesrv	  = -max_len=2048
FUZZ_OPTS_fuzz_dns	  = -max_len=4096
FUZZ_OPTS_fuzz_serve	  = -max_len=4096 -dict=tests/fuzz/dict/fuzz_http.dict
FUZZ_OPTS_fuzz_login	  = -max_len=8192 -dict=tests/fuzz/dict/fuzz_clientinfo.dict
FUZZ_OPTS_fuzz_ws	  = -max_len=8192
FUZZ_OPTS_fuzz_flags	  = -max_len=2048 -dict=tests/fuzz/dict/fuzz_flags.dict -close_fd_mask=3
FUZZ_OPTS_fuzz_allowlist  = -max_len=8192 -dict=tests/fuzz/dict/fuzz_allowlist.dict
FUZZ_OPTS_fuzz_verifyd_proto = -max_len=128
FUZZ_OPTS_fuzz_verifier_answer = -max_len=6000 -dict=tests/fuzz/dict/fuzz_verifier_answer.dict
FUZZ_OPTS_fuzz_meshpeers  = -max_len=2048 -dict=tests/fuzz/dict/fuzz_meshpeers.dict
FUZZ_OPTS_fuzz_dial	  = -max_len=1024
FUZZ_OPTS_fuzz_linkparse  = -max_len=8192 -dict=tests/fuzz/dict/fuzz_http.dict
FUZZ_OPTS_fuzz_tlsrec	  = -max_len=40000
FUZZ_OPTS	?=
# fuzz-short: executions per target (2 to 6 s each here, about a minute in
# all), and the seed.
FUZZ_RUNS	?= 300000
FUZZ_RUNS_fuzz_ring	  = 5000
FUZZ_RUNS_fuzz_table	  = 100000
FUZZ_RUNS_fuzz_client_derp = 60000
FUZZ_RUNS_fuzz_clientinfo = 100000
FUZZ_RUNS_fuzz_keyfile	  = 50000
FUZZ_RUNS_fuzz_rateconf	  = 150000
FUZZ_RUNS_fuzz_flags	  = 60000
FUZZ_RUNS_fuzz_keyd	  = 15000
FUZZ_RUNS_fuzz_tablesrv	  = 30000
FUZZ_RUNS_fuzz_dns	  = 80000
FUZZ_RUNS_fuzz_serve	  = 70000
FUZZ_RUNS_fuzz_login	  = 15000
FUZZ_RUNS_fuzz_ws	  = 20000
FUZZ_RUNS_fuzz_keyd_acme  = 4000
FUZZ_RUNS_fuzz_allowlist  = 150000
FUZZ_RUNS_fuzz_verifier_answer = 30000
FUZZ_RUNS_fuzz_linkparse  = 60000
FUZZ_RUNS_fuzz_tlsrec	  = 40000
FUZZ_SEED	?= 1
FUZZ_ENV      = ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

FUZZ_BINS     = $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))
FUZZ_HDRS     = $(wildcard common/*.h worker/*.h master/*.h client/*.h acme/*.h) \
		$(wildcard tests/fuzz/*.h) tests/fuzz/fuzz_rand.c

.PHONY: fuzz fuzz-build fuzz-regress fuzz-short fuzz-deps fuzz-clean

define fuzz_binary
$(FUZZ_DIR)/$(1): tests/fuzz/$(1).c $(FUZZ_SRC_$(1)) $(FUZZ_INC_$(1)) $(FUZZ_HDRS) \
		tests/fuzz/fuzz.mk | fuzz-deps
	@mkdir -p $(FUZZ_DIR)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -o $$@ tests/fuzz/$(1).c $(FUZZ_SRC_$(1)) \
		tests/fuzz/fuzz_rand.c \
		$$(FUZZ_PKG_FLAGS) -lwslay -lm
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_binary,$(t))))

fuzz-build: $(FUZZ_BINS)

# One fuzzing session: seeds copied into the scratch corpus, full log kept in
# build-fuzz/logs/<target>.log, its closing statistics printed.
define fuzz_run
( t=$(1); corp=$(FUZZ_DIR)/corpus/$$t; log=$(FUZZ_DIR)/logs/$$t.log; \
  mkdir -p $$corp $(FUZZ_DIR)/artifacts $(FUZZ_DIR)/logs && \
  cp tests/fuzz/corpus/$$t/* $$corp/ && \
  echo "== $$t: $(FUZZ_SECONDS)s, corpus $$corp" && \
  if $(FUZZ_ENV) ./$(FUZZ_DIR)/$$t $(FUZZ_OPTS_$(1)) $(FUZZ_OPTS) \
	-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	-artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- $$corp >$$log 2>&1; then \
	grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' $$log; \
  else \
	tail -n 60 $$log; echo "== $$t FAILED (log: $$log)"; false; \
  fi )
endef

fuzz: fuzz-deps $(FUZZ_BINS)
	@failed=; \
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t)) || failed="$$failed $(t)";) \
	if [ -n "$$failed" ]; then echo "fuzz: crashes in:$$failed"; exit 1; fi; \
	echo "fuzz: $(words $(FUZZ_TARGETS)) targets ran $(FUZZ_SECONDS)s each, no crash"

# Each seed, and each kept crash (crashes/<target minus fuzz_>_*), once
# through its harness; fails on any crash or invariant, or an input that
# takes a minute (libFuzzer's own default is twenty).
fuzz-regress: fuzz-deps $(FUZZ_BINS)
	@pass=0; fail=0; \
	for t in $(FUZZ_TARGETS); do \
		if $(FUZZ_ENV) ./$(FUZZ_DIR)/$$t -timeout=60 tests/fuzz/corpus/$$t/* \
		    $$(ls tests/fuzz/crashes/$${t#fuzz_}_* 2>/dev/null) \
		    >$(FUZZ_DIR)/$$t.regress.log 2>&1; then \
			pass=$$((pass + 1)); \
			echo "ok   $$t ($$(ls tests/fuzz/corpus/$$t | wc -l) inputs)"; \
		else \
			fail=$$((fail + 1)); \
			echo "FAIL $$t"; tail -n 40 $(FUZZ_DIR)/$$t.regress.log; \
		fi; \
	done; \
	echo "fuzz-regress: $$pass passed, $$fail failed"; \
	[ $$fail = 0 ]

# make test's fuzzing, after the replay: each target from its seeds alone
# for FUZZ_RUNS_<target> (else FUZZ_RUNS) executions with -seed=FUZZ_SEED,
# so the same code (and compiler) gets the same verdict on every machine.
# What would change a run otherwise: the seeds go in by name in sorted
# order (-seed_inputs), not as a directory, whose listing order differs
# between file systems; the scratch corpus starts empty and is never
# reread (-reload=0: libFuzzer rereads it every second); address-space
# randomisation is off and the environment empty but for the sanitizers'
# options (setarch -R, env -i: libFuzzer learns from compared values, code
# addresses and pointers among them, and the environment's size moves the
# stack); harnesses whose code draws random numbers get
# them from a fixed seed (tests/fuzz/fuzz_rand.c, in every harness). A
# crash fails the run and is written to tests/fuzz/crashes/ as
# <target minus fuzz_>_crash-<sha1>, where fuzz-regress replays it from
# then on: fix the code, keep the file.
define fuzz_short_run
( t=$(1); dir=$(FUZZ_DIR)/short/$$t; log=$(FUZZ_DIR)/logs/$$t.short.log; \
  rm -rf $$dir && mkdir -p $$dir $(FUZZ_DIR)/logs && \
  ls tests/fuzz/corpus/$$t/* | LC_ALL=C sort | paste -sd, - >$$dir.seeds && \
  t0=$$(date +%s%N) && \
  if env -i $(FUZZ_ENV) setarch $$(uname -m) -R ./$(FUZZ_DIR)/$$t $(FUZZ_OPTS_$(1)) \
	-runs=$(or $(FUZZ_RUNS_$(1)),$(FUZZ_RUNS)) -seed=$(FUZZ_SEED) -reload=0 \
	-seed_inputs=@$$dir.seeds -artifact_prefix=tests/fuzz/crashes/$${t#fuzz_}_ \
	$$dir >$$log 2>&1; then \
	printf 'ok   %-18s %7s runs %6s ms  %s\n' $$t \
	    $(or $(FUZZ_RUNS_$(1)),$(FUZZ_RUNS)) $$(( ($$(date +%s%N) - t0) / 1000000 )) \
	    "$$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' $$log | tail -n 1)"; \
  else \
	tail -n 40 $$log; echo "FAIL $$t (log: $$log)"; false; \
  fi )
endef

fuzz-short: fuzz-regress
	@failed=; start=$$(date +%s); \
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_short_run,$(t)) || failed="$$failed $(t)";) \
	echo "fuzz-short: $(words $(FUZZ_TARGETS)) targets in $$(( $$(date +%s) - start ))s"; \
	if [ -n "$$failed" ]; then \
		echo "fuzz-short: crashes in:$$failed, kept in tests/fuzz/crashes/"; \
		exit 1; \
	fi

# The top-level Makefile's deps rule, for the fuzzers' packages.
fuzz-deps:
	@$(MAKE) -s deps APT_PKGS="$(FUZZ_APT_PKGS)"

fuzz-clean:
	rm -rf $(FUZZ_DIR)

.DEFAULT_GOAL := $(fuzz_saved_default_goal)
