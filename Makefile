# SPDX-License-Identifier: BSD-3-Clause
# derpd: a hardened, wire-compatible DERP relay (Tailscale's derper, in C).
#
#   make run        install what is missing, build, run a dev relay on 127.0.0.1:3340
#   make test       the whole suite: unit, end-to-end, both again under ASan+UBSan,
#                   the fuzz corpora replayed, and the Debian package checked
#   make deb        build-deb/derpd_<version>_<arch>.deb (packaging/debian)
#   make bench      throughput/latency/memory figures (see bench/README.md)

CC	?= cc
PKGS	 = openssl libsodium libcap-ng libseccomp jansson zlib
PYTHON	 = /usr/bin/python3
# Debian packages needed to build, run and test.
APT_PKGS = build-essential pkg-config libssl-dev libsodium-dev libcap-ng-dev \
	   libseccomp-dev libjansson-dev zlib1g-dev libwslay-dev libcmocka-dev openssl \
	   python3-pytest python3-nacl python3-websockets python3-aioice

HARDEN	 = -fstack-protector-strong -D_FORTIFY_SOURCE=3 -fPIE
WARN	 = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes
BASE_CFLAGS = -std=gnu11 -D_GNU_SOURCE -g $(WARN) -Icommon -Iworker -Imaster \
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

COMMON_SRC = common/log.c common/frame.c common/keyfmt.c common/keyfile.c \
	     common/table.c common/ring.c common/shm.c common/privdrop.c \
	     common/sandbox.c common/stun.c common/ratelimit.c
WORKER_SRC = worker/main.c worker/bufpool.c worker/http.c worker/clientinfo.c \
	     worker/transport.c worker/outq.c worker/websocket.c worker/conn.c \
	     worker/timers.c worker/peergone.c worker/route.c worker/mesh.c \
	     worker/presence.c worker/inbox.c worker/derp_in.c \
	     worker/reqq.c worker/keyd_client.c worker/table_client.c \
	     worker/keyset.c worker/handshake.c worker/http_serve.c \
	     worker/metrics.c worker/session.c
MASTER_SRC = master/main.c master/flags.c master/keyd.c master/listen.c \
	     master/tlsctx.c master/supervise.c master/tablesrv.c master/stund.c \
	     master/dnsd.c master/rateconf.c
KEYGEN_SRC = keygen/keygen.c
BENCH_SRC  = bench/main.c bench/client.c bench/modes.c bench/stats.c
HEADERS	   = $(wildcard common/*.h worker/*.h master/*.h tests/unit/*.h bench/*.h)

DERPD_OBJ  = $(COMMON_SRC:.c=.o) $(WORKER_SRC:.c=.o) $(MASTER_SRC:.c=.o)
KEYGEN_OBJ = common/log.o common/keyfmt.o common/keyfile.o keygen/keygen.o
BENCH_OBJ  = common/log.o common/frame.o $(BENCH_SRC:.c=.o)
BENCH_LIBS = $(shell pkg-config --libs openssl libsodium 2>/dev/null) -lpthread

UNIT_TESTS = test_frame test_keyfmt test_table test_ring test_http \
	     test_clientinfo test_flags test_sandbox

.PHONY: all deps run test check test-unit test-e2e test-asan test-sandbox bench \
	install deb deb-deps test-package clean

all: build/derpd build/derpd-keygen

define variant
$(1)/%.o: %.c $(HEADERS) Makefile
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASE_CFLAGS) $$(VARIANT_CFLAGS) -c $$< -o $$@

$(1)/derpd: $(addprefix $(1)/,$(DERPD_OBJ))
	$$(CC) $$(BASE_LDFLAGS) $$(VARIANT_LDFLAGS) -o $$@ $$^ $$(LIBS)

$(1)/derpd-keygen: $(addprefix $(1)/,$(KEYGEN_OBJ))
	$$(CC) $$(BASE_LDFLAGS) $$(VARIANT_LDFLAGS) -o $$@ $$^ $$(LIBS)

$(1)/derpbench: $(addprefix $(1)/,$(BENCH_OBJ))
	$$(CC) $$(BASE_LDFLAGS) $$(VARIANT_LDFLAGS) -o $$@ $$^ $$(BENCH_LIBS)

# Unit tests link against an archive, so each pulls in only what it uses.
$(1)/libderpd.a: $(addprefix $(1)/,$(filter-out master/main.o worker/main.o,$(DERPD_OBJ)))
	rm -f $$@ && ar rcs $$@ $$^

$(1)/tests/%: $(1)/tests/unit/%.o $(1)/libderpd.a
	$$(CC) $$(BASE_LDFLAGS) $$(VARIANT_LDFLAGS) -o $$@ $$^ $$(LIBS) -lcmocka
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
	$(MAKE) check test-unit test-e2e test-asan fuzz-regress test-package

# Static checks of the tree itself: license lines, no include cycle between
# modules, no mutable statics in the worker but its one struct wk.
check: all
	$(PYTHON) tests/check_license.py
	$(PYTHON) tests/check_layers.py build

test-unit: $(addprefix build/tests/,$(UNIT_TESTS))
	@for t in $^; do echo "== $$t"; ./$$t || exit 1; done

test-e2e: all build-test/derpd build/derpbench
	DERPD_BIN=$(CURDIR)/build/derpd DERPD_KEYGEN=$(CURDIR)/build/derpd-keygen \
	DERPD_TEST_BIN=$(CURDIR)/build-test/derpd \
	$(PYTHON) -m pytest -q tests/e2e

# The privilege-separation and sandbox tests alone (run as root, or most skip).
test-sandbox: all build-test/derpd
	DERPD_BIN=$(CURDIR)/build/derpd DERPD_KEYGEN=$(CURDIR)/build/derpd-keygen \
	DERPD_TEST_BIN=$(CURDIR)/build-test/derpd \
	$(PYTHON) -m pytest -q tests/e2e/test_privdrop.py tests/e2e/test_keyfile.py \
		tests/e2e/test_key_isolation.py tests/e2e/test_worker_death.py

test-asan: build-asan/derpd build-asan/derpd-keygen build/derpbench $(addprefix build-asan/tests/,$(UNIT_TESTS))
	@for t in $(addprefix build-asan/tests/,$(UNIT_TESTS)); do echo "== $$t"; ./$$t || exit 1; done
	DERPD_BIN=$(CURDIR)/build-asan/derpd DERPD_KEYGEN=$(CURDIR)/build-asan/derpd-keygen \
	DERPD_ASAN=1 ASAN_OPTIONS=abort_on_error=1:detect_leaks=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(PYTHON) -m pytest -q tests/e2e

PREFIX	?= /usr/local
DESTDIR	?=

install: all
	install -D -m 0755 build/derpd $(DESTDIR)$(PREFIX)/sbin/derpd
	install -D -m 0755 build/derpd-keygen $(DESTDIR)$(PREFIX)/bin/derpd-keygen

# The Debian package, built from a copy of the tracked sources with
# packaging/debian as its debian/ directory: build-deb/derpd_<ver>_<arch>.deb.
DEB_APT_PKGS = debhelper dpkg-dev fakeroot
DEB_SRC	 = Makefile README.md SECURITY.md common worker master keygen \
	   tests/fuzz/fuzz.mk packaging/derpd.conf
DEB_VERSION = $(shell sed -n '1s/.*(\(.*\)).*/\1/p' packaging/debian/changelog)
DEB_ARCH = $(shell dpkg --print-architecture)
DEB	 = build-deb/derpd_$(DEB_VERSION)_$(DEB_ARCH).deb

deb-deps:
	@$(MAKE) -s deps APT_PKGS="$(DEB_APT_PKGS)"

deb: deb-deps
	rm -rf build-deb && mkdir -p build-deb/src
	cp -r --parents $(DEB_SRC) build-deb/src/
	cp -r packaging/debian build-deb/src/debian
	cp packaging/derpd.service build-deb/src/debian/derpd.service
	cd build-deb/src && dpkg-buildpackage -us -uc -b -j$$(nproc) >../build.log 2>&1 \
		|| { tail -n 40 ../build.log; exit 1; }
	@ls -l $(DEB)

# Inspects the package; as root, also installs it, runs the installed relay
# and purges it (skipped when a derpd package is already installed).
test-package: deb
	DERPD_DEB=$(CURDIR)/$(DEB) $(PYTHON) -m pytest -q tests/package

# Figures, not a test: starts its own derpd on loopback (see bench/README.md).
bench: all build/derpbench
	$(PYTHON) bench/run.py

clean: fuzz-clean
	rm -rf build build-asan build-test build-deb

include tests/fuzz/fuzz.mk
