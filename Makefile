# SPDX-License-Identifier: BSD-3-Clause
# derpd: a hardened, wire-compatible DERP relay (Tailscale's derper, in C).
#
#   make run        install what is missing, build, run a dev relay on 127.0.0.1:3340
#   make test       the whole suite: unit, end-to-end, both again under ASan+UBSan,
#                   the fuzz corpora replayed, every fuzzer run for a fixed
#                   budget (fuzz-short), and the Debian package checked
#   make deb        build-deb/derpd_<version>_<arch>.deb (packaging/debian)
#   make bench      throughput/latency/memory figures (see bench/README.md)

CC	?= cc
PKGS	 = openssl libsodium libcap-ng libseccomp jansson zlib libcurl
PYTHON	 = /usr/bin/python3
# Debian packages needed to build, run and test.
APT_PKGS = build-essential pkg-config libssl-dev libsodium-dev libcap-ng-dev \
	   libseccomp-dev libjansson-dev zlib1g-dev libwslay-dev libcmocka-dev openssl \
	   python3-pytest python3-nacl python3-websockets python3-aioice scdoc \
	   python3-openssl python3-cryptography libcurl4-openssl-dev pebble ca-certificates

HARDEN	 = -fstack-protector-strong -D_FORTIFY_SOURCE=3 -fPIE
# Development and CI builds fail on any warning; the Debian package build
# passes WERROR= so that a newer compiler's new warning cannot break it.
WERROR	 = -Werror
WARN	 = -Wall -Wextra $(WERROR) -Wshadow -Wpointer-arith -Wstrict-prototypes
BASE_CFLAGS = -std=gnu11 -D_GNU_SOURCE -g $(WARN) -Icommon -Iworker -Imaster -Iacme \
	   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS	 = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lwslay -lm	# Debian ships no wslay .pc
BASE_LDFLAGS = -pie -Wl,-z,relro,-z,now

# build/: production; build-asan/: ASan+UBSan; build-test/: production plus
# the fault-injection hooks the sandbox tests need (never installed).
build/%:	  VARIANT_CFLAGS = -O2 $(HARDEN)
build-test/%:	  VARIANT_CFLAGS = -O2 $(HARDEN) -DDERPD_TEST_HOOKS
build-asan/%:	  VARIANT_CFLAGS = -O1 -fPIE -fno-omit-frame-pointer \
			-fsanitize=address,undefined -fno-sanitize-recover=all
build-asan/%:	  VARIANT_LDFLAGS = -fsanitize=address,undefined

COMMON_SRC = common/log.c common/frame.c common/keyfmt.c common/keyfile.c common/setup.c \
	     common/table.c common/ring.c common/shm.c common/privdrop.c \
	     common/sandbox.c common/stun.c common/ratelimit.c common/probe.c \
	     common/stopsig.c common/certshm.c common/acme_proto.c common/verifyd_proto.c \
	     common/allowlist.c common/meshpeers.c common/dial_proto.c common/pool.c \
	     common/fdpass.c
WORKER_SRC = worker/main.c worker/bufpool.c worker/http.c worker/clientinfo.c \
	     worker/transport.c worker/tlsrec.c worker/tlsown.c worker/loginmem.c worker/outq.c worker/websocket.c worker/conn.c \
	     worker/conn_io.c worker/accept.c \
	     worker/timers.c worker/peergone.c worker/route.c worker/mesh.c \
	     worker/presence.c worker/inbox.c worker/derp_in.c \
	     worker/reqq.c worker/keyd_client.c worker/table_client.c \
	     worker/keyset.c worker/handshake.c worker/http_serve.c \
	     worker/http_reply.c worker/http_debug.c \
	     worker/metrics.c worker/session.c \
	     worker/tlskey.c worker/tlskey_mgmt.c worker/tlsctx.c worker/tlsstore.c worker/verify.c \
	     worker/clientcert.c \
	     worker/forward.c worker/dial_client.c worker/tlsclient.c \
	     worker/linkparse.c worker/remote.c worker/meshlink.c \
	     worker/meshstat.c worker/pktq.c worker/sendq.c worker/pushback.c
MASTER_SRC = master/main.c master/flags.c master/keyd.c master/keyproc.c \
	     master/listen.c master/steer.c master/certs.c master/supervise.c master/tablesrv.c \
	     master/stund.c master/dnsd.c master/dnsd_json.c master/rateconf.c \
	     master/notify.c master/spawn.c master/roles.c master/keyring.c \
	     master/keyproc_acme.c master/keyproc_ctl.c master/selfsign.c \
	     master/acmed.c master/tlspub.c master/certreload.c master/verifyd.c \
	     master/allowkeys.c master/clientca.c master/verifier.c \
	     master/verifier_serve.c master/verifier_http.c master/verifier_cache.c \
	     master/verifier_answer.c master/dialer.c master/dialctl.c
# The ACME engine (acme/), which the ACME child (acme/child*.c) runs; its
# test driver runs it alone.
ACME_SRC   = acme/engine.c acme/account.c acme/order.c acme/net.c acme/jws.c \
	     acme/parse.c acme/x509.c acme/store.c acme/renew.c acme/resolve.c \
	     common/b64url.c
ACME_CHILD_SRC = acme/child.c acme/child_master.c acme/child_keyd.c
ACME_LIBS  = $(shell pkg-config --libs libcurl openssl jansson 2>/dev/null) -lpthread
ACME_DRIVER_OBJ = tests/acme/driver.o tests/acme/csr_local.o \
	     tests/acme/responder.o common/log.o
KEYGEN_SRC = keygen/keygen.c
BENCH_SRC  = bench/main.c bench/client.c bench/modes.c bench/stats.c bench/procstat.c
CLIENT_SRC = client/main.c client/opts.c client/url.c client/bq.c client/errfmt.c \
	     client/transport.c client/httpc.c client/httpparse.c client/ws.c client/metacert.c \
	     client/derpmsg.c client/derpconn.c client/crypto.c \
	     client/session.c client/report.c client/probe.c client/probe_tls.c \
	     client/probe_http.c client/probe_derp.c client/probe_stun.c \
	     client/stunc.c client/streamfmt.c client/stream_send.c \
	     client/stream_recv.c client/chatmsg.c client/chat_peers.c \
	     client/chat.c client/chat_cmd.c
HEADERS	   = $(wildcard common/*.h worker/*.h master/*.h tests/unit/*.h bench/*.h \
	     client/*.h acme/*.h tests/acme/*.h)
# Manual pages: man/NAME.SECTION.scd -> build/man/NAME.SECTION (scdoc).
MAN	   = $(patsubst man/%.scd,build/man/%,$(wildcard man/*.scd))

DERPD_OBJ  = $(COMMON_SRC:.c=.o) $(WORKER_SRC:.c=.o) $(MASTER_SRC:.c=.o) \
	     $(ACME_SRC:.c=.o) $(ACME_CHILD_SRC:.c=.o)
KEYGEN_OBJ = common/log.o common/keyfmt.o common/keyfile.o keygen/keygen.o
KEYGEN_LIBS = $(shell pkg-config --libs libsodium jansson 2>/dev/null)
BENCH_OBJ  = common/log.o common/frame.o $(BENCH_SRC:.c=.o)
BENCH_LIBS = $(shell pkg-config --libs openssl libsodium 2>/dev/null) -lpthread
# What OpenSSL keeps for one idle TLS server connection (make bench).
TLSMEM_OBJ = bench/tlsmem.o worker/tlsrec.o
TLSMEM_LIBS = $(shell pkg-config --libs openssl 2>/dev/null)
CLIENT_OBJ = common/log.o common/frame.o common/keyfmt.o common/keyfile.o \
	     $(CLIENT_SRC:.c=.o)
CLIENT_LIBS = $(shell pkg-config --libs openssl libsodium jansson zlib 2>/dev/null) -lwslay

UNIT_TESTS = test_frame test_keyfmt test_table test_ring test_http \
	     test_clientinfo test_flags test_sandbox test_b64url \
	     test_acme_parse test_acme_crypto test_acme_config test_renew \
	     test_hashkey test_steer test_procstat test_certshm test_keyproc_tls test_verify \
	     test_pktq test_tlsrec

.PHONY: all man deps run test check test-unit test-e2e test-asan test-sandbox test-acme bench mutate \
	install deb deb-deps package-test-deps test-package clean

all: build/derpd build/derpd-keygen build/derpd-client man

man: $(MAN)

$(MAN): build/man/%: man/%.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@.tmp && mv $@.tmp $@

define variant
$(1)/%.o: %.c $(HEADERS) Makefile
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASE_CFLAGS) $$(VARIANT_CFLAGS) -c $$< -o $$@

$(1)/derpd: $(addprefix $(1)/,$(DERPD_OBJ))
	$$(CC) $$(BASE_LDFLAGS) $$(VARIANT_LDFLAGS) -o $$@ $$^ $$(LIBS)

$(1)/derpd-keygen: $(addprefix $(1)/,$(KEYGEN_OBJ))
	$$(CC) $$(BASE_LDFLAGS) $$(VARIANT_LDFLAGS) -o $$@ $$^ $$(KEYGEN_LIBS)

$(1)/derpd-client: $(addprefix $(1)/,$(CLIENT_OBJ))
	$$(CC) $$(BASE_LDFLAGS) $$(VARIANT_LDFLAGS) -o $$@ $$^ $$(CLIENT_LIBS)

$(1)/derpbench: $(addprefix $(1)/,$(BENCH_OBJ))
	$$(CC) $$(BASE_LDFLAGS) $$(VARIANT_LDFLAGS) -o $$@ $$^ $$(BENCH_LIBS)

$(1)/tlsmem: $(addprefix $(1)/,$(TLSMEM_OBJ))
	$$(CC) $$(BASE_LDFLAGS) $$(VARIANT_LDFLAGS) -o $$@ $$^ $$(TLSMEM_LIBS)

# Test only, never installed: runs the ACME engine once (tests/acme/).
$(1)/acme-test-driver: $(addprefix $(1)/,$(ACME_DRIVER_OBJ)) $(1)/libacme.a
	$$(CC) $$(BASE_LDFLAGS) $$(VARIANT_LDFLAGS) -o $$@ $$^ $$(ACME_LIBS)

# Unit tests link against archives, so each pulls in only what it uses.
$(1)/libderpd.a: $(addprefix $(1)/,$(filter-out master/main.o worker/main.o,$(DERPD_OBJ)))
	rm -f $$@ && ar rcs $$@ $$^

$(1)/libacme.a: $(addprefix $(1)/,$(ACME_SRC:.c=.o))
	rm -f $$@ && ar rcs $$@ $$^

# derpbench's /proc readings, alone.
$(1)/tests/test_procstat: $(1)/tests/unit/test_procstat.o $(1)/bench/procstat.o \
	$(1)/common/log.o
	$$(CC) $$(BASE_LDFLAGS) $$(VARIANT_LDFLAGS) -o $$@ $$^ -lpthread -lcmocka

$(1)/tests/%: $(1)/tests/unit/%.o $(1)/libacme.a $(1)/libderpd.a
	$$(CC) $$(BASE_LDFLAGS) $$(VARIANT_LDFLAGS) -o $$@ $$^ $$(LIBS) \
		$$(ACME_LIBS) -lcmocka
endef
$(eval $(call variant,build))
$(eval $(call variant,build-asan))
$(eval $(call variant,build-test))

# Installs the Debian packages that are missing (as root, or with sudo).
deps:
	@missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

dev/derpd.key: | build/derpd-keygen
	@mkdir -p dev
	./build/derpd-keygen $@

run: deps
	$(MAKE) all dev/derpd.key
	./build/derpd -dev -c dev/derpd.key

test: deps
	$(MAKE) check test-unit test-e2e test-asan fuzz-regress fuzz-short test-package

# Static checks of the tree itself: license lines, no include cycle between
# modules, no mutable statics in the worker but its one struct wk, and
# every test SECURITY.md names exists.
check: all
	$(PYTHON) tests/check_license.py
	$(PYTHON) tests/check_layers.py build
	$(PYTHON) tests/check_policy_doc.py
	$(PYTHON) tests/check_security_refs.py
	$(PYTHON) tests/mutate/mutate.py --check

test-unit: $(addprefix build/tests/,$(UNIT_TESTS))
	@for t in $^; do echo "== $$t"; ./$$t || exit 1; done

test-e2e: all build-test/derpd build/derpbench build/acme-test-driver
	DERPD_BIN=$(CURDIR)/build/derpd DERPD_KEYGEN=$(CURDIR)/build/derpd-keygen \
	DERPD_CLIENT=$(CURDIR)/build/derpd-client DERPD_TEST_BIN=$(CURDIR)/build-test/derpd \
	$(PYTHON) -m pytest -q tests/e2e
	ACME_DRIVER=$(CURDIR)/build/acme-test-driver DERPD_BIN=$(CURDIR)/build/derpd \
	DERPD_KEYGEN=$(CURDIR)/build/derpd-keygen DERPD_TEST_BIN=$(CURDIR)/build-test/derpd \
	$(PYTHON) -m pytest -q tests/acme

# The privilege-separation and sandbox tests alone (run as root, or most skip).
test-sandbox: all build-test/derpd
	DERPD_BIN=$(CURDIR)/build/derpd DERPD_KEYGEN=$(CURDIR)/build/derpd-keygen \
	DERPD_TEST_BIN=$(CURDIR)/build-test/derpd \
	$(PYTHON) -m pytest -q tests/e2e/test_privdrop.py tests/e2e/test_keyfile.py \
		tests/e2e/test_key_isolation.py tests/e2e/test_worker_death.py

test-asan: build-asan/derpd build-asan/derpd-keygen build-asan/derpd-client build/derpbench \
	   build-asan/acme-test-driver build-test/derpd \
	   $(addprefix build-asan/tests/,$(UNIT_TESTS))
	@for t in $(addprefix build-asan/tests/,$(UNIT_TESTS)); do echo "== $$t"; ./$$t || exit 1; done
	DERPD_BIN=$(CURDIR)/build-asan/derpd DERPD_KEYGEN=$(CURDIR)/build-asan/derpd-keygen \
	DERPD_CLIENT=$(CURDIR)/build-asan/derpd-client \
	DERPD_ASAN=1 ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(PYTHON) -m pytest -q tests/e2e
	ACME_DRIVER=$(CURDIR)/build-asan/acme-test-driver DERPD_ASAN=1 \
	DERPD_BIN=$(CURDIR)/build-asan/derpd DERPD_KEYGEN=$(CURDIR)/build-asan/derpd-keygen \
	DERPD_TEST_BIN=$(CURDIR)/build-test/derpd \
	ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(PYTHON) -m pytest -q tests/acme

# The ACME tests alone: the engine, and derpd's ACME client (Pebble and a
# stub CA on loopback; see tests/acme/).
test-acme: all build/acme-test-driver build-test/derpd
	ACME_DRIVER=$(CURDIR)/build/acme-test-driver DERPD_BIN=$(CURDIR)/build/derpd \
	DERPD_KEYGEN=$(CURDIR)/build/derpd-keygen DERPD_TEST_BIN=$(CURDIR)/build-test/derpd \
	$(PYTHON) -m pytest -q tests/acme

PREFIX	?= /usr/local
DESTDIR	?=

install: all
	install -D -m 0755 build/derpd $(DESTDIR)$(PREFIX)/sbin/derpd
	install -D -m 0755 build/derpd-keygen $(DESTDIR)$(PREFIX)/bin/derpd-keygen
	install -D -m 0755 build/derpd-client $(DESTDIR)$(PREFIX)/bin/derpd-client
	for m in $(MAN); do \
		install -D -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/$${m##*/} \
			|| exit 1; \
	done

# The Debian package, built from a copy of the tracked sources with
# packaging/debian as its debian/ directory: build-deb/derpd_<ver>_<arch>.deb.
DEB_APT_PKGS = debhelper dpkg-dev fakeroot scdoc
# What make test-package needs beyond that: lintian, man to render the pages,
# and a Debian 12 container booted with systemd-nspawn (see tests/package).
PKG_TEST_APT_PKGS = lintian man-db groff-base debootstrap systemd-container \
	   debian-archive-keyring openssl
DEB_SRC	 = Makefile README.md SECURITY.md common worker master acme keygen client man \
	   tests/fuzz/fuzz.mk packaging/derpd.conf
DEB_VERSION = $(shell sed -n '1s/.*(\(.*\)).*/\1/p' packaging/debian/changelog)
DEB_ARCH = $(shell dpkg --print-architecture)
DEB	 = build-deb/derpd_$(DEB_VERSION)_$(DEB_ARCH).deb

deb-deps:
	@$(MAKE) -s deps APT_PKGS="$(DEB_APT_PKGS)"

package-test-deps:
	@$(MAKE) -s deps APT_PKGS="$(PKG_TEST_APT_PKGS)"

deb: deb-deps
	rm -rf build-deb && mkdir -p build-deb/src
	cp -r --parents $(DEB_SRC) build-deb/src/
	cp -r packaging/debian build-deb/src/debian
	cp packaging/derpd.service build-deb/src/debian/derpd.service
	cd build-deb/src && dpkg-buildpackage -us -uc -b -j$$(nproc) >../build.log 2>&1 \
		|| { tail -n 40 ../build.log; exit 1; }
	@ls -l $(DEB)

# Inspects the package (lintian, manual pages, unit); as root, also installs
# it here, runs the installed relay and purges it (skipped when a derpd
# package is already installed), and installs it in a Debian 12 container
# booted with systemd to drive the unit (tests/package/test_systemd.py).
test-package: deb package-test-deps
	DERPD_DEB=$(CURDIR)/$(DEB) $(PYTHON) -m pytest -q tests/package

# Does the suite notice wrong code? Each mutation of tests/mutate/mutations.py
# in turn, in a scratch copy (build-mutate/), must make its named tests fail;
# prints the table and fails if one survives. As root (some tests need it);
# not part of make test. MUTATE=name,... runs some.
mutate: deps fuzz-deps
	$(PYTHON) tests/mutate/mutate.py

# Figures, not a test: starts its own derpd on loopback (see bench/README.md).
bench: all build/derpbench build/tlsmem
	$(PYTHON) bench/run.py

clean: fuzz-clean
	rm -rf build build-asan build-test build-deb build-mutate

include tests/fuzz/fuzz.mk
