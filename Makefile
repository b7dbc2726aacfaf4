# portrsv: persistent port reservations for Linux, enforced by cgroup BPF programs.
#   make            build/portrsv, build/portrsv-cni, build/libportrsv.so, build/libportrsv.a
#   make test       build and run every test (kernel tests need root)
#   make check-deploy  the Kubernetes deployment (deploy/kubernetes), no cluster needed
#   make unit-test-asan   the unit tests built with ASan and UBSan (build/asan/)
#   make fuzz       libFuzzer on the store parser, argument parsers, the JSON/text escaper and
#                   the CNI plugin's config parser,
#                   FUZZ_SECONDS each
#   make fuzz-smoke the same for 10 seconds each (what CI runs)
#   make podman-test  portrsv-cni under a real podman (root; podman, runc, busybox-static and
#                   containernetworking-plugins installed, else it skips)
#   make bench      the benchmarks (root): table, CSV and chart in build/bench-results/
#   make deps       install the Debian packages the build and tests need (scripts/deps.sh --test)
#   make install    PREFIX=/usr/local DESTDIR= (CNIDIR=PREFIX/lib/cni for portrsv-cni)
#   V=1             show the commands

OUT        := build
CC         ?= cc
CLANG      ?= clang
BPFTOOL    ?= bpftool
PKG_CONFIG ?= pkg-config
PREFIX     ?= /usr/local
DESTDIR    ?=
VERSION    := 0.1.0
SOVER      := 0

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' -e 's/s390x/s390/')

LIBBPF_CFLAGS := $(shell $(PKG_CONFIG) --cflags libbpf 2>/dev/null)
LIBBPF_LIBS   := $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)
# json-c: the command writes its JSON with it (user/cli/json.c), the tests read it (tests/json.h).
JSONC_LIBS    := $(shell $(PKG_CONFIG) --libs json-c 2>/dev/null || echo -ljson-c)

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS   ?= -O2 -g
CFLAGS   += $(WARN) -std=gnu11 -D_GNU_SOURCE -DPORTRSV_VERSION='"$(VERSION)"' -Iinclude -Iuser -I$(OUT) $(LIBBPF_CFLAGS)
LIBCFLAGS := -fPIC -fvisibility=hidden
BPFCFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Ivmlinux -Iinclude -Wall -Werror

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

LIB_SRCS := $(wildcard user/*.c)
LIB_OBJS := $(patsubst user/%.c,$(OUT)/lib/%.o,$(LIB_SRCS))
# The command: one file per concept (user/cli/cli.h lists them).
CLI_SRCS := $(wildcard user/cli/*.c)
CLI_OBJS := $(patsubst user/cli/%.c,$(OUT)/cli/%.o,$(CLI_SRCS))
HDRS     := $(wildcard include/*.h include/portrsv/*.h user/*.h user/cli/*.h)

UNIT_TESTS   := $(patsubst tests/%.c,$(OUT)/tests/%,$(wildcard tests/unit_*.c))
KERNEL_TESTS := $(patsubst tests/%.c,$(OUT)/tests/%,$(wildcard tests/kernel_*.c))
EXAMPLES     := $(patsubst examples/%.c,$(OUT)/examples/%,$(wildcard examples/*.c))

# Sanitizer builds of the unit tests, with the library built the same way.
ASAN_OUT       := $(OUT)/asan
SANFLAGS       := -fsanitize=address,undefined -fno-omit-frame-pointer \
		  -fno-sanitize-recover=undefined
ASAN_LIB_OBJS  := $(patsubst user/%.c,$(ASAN_OUT)/lib/%.o,$(LIB_SRCS))
ASAN_UNIT_TESTS := $(patsubst tests/%.c,$(ASAN_OUT)/tests/%,$(wildcard tests/unit_*.c))

# libFuzzer targets: clang only. They link the parsers' sources directly, not the library, so
# they need neither libbpf nor the BPF object. fuzz_store.c includes user/store.c itself.
FUZZ_OUT     := $(OUT)/fuzz
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		$(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser
FUZZ_SRCS    := user/parse.c user/errors.c user/fault.c user/dirs.c user/escape.c
FUZZERS      := $(FUZZ_OUT)/fuzz_store $(FUZZ_OUT)/fuzz_args $(FUZZ_OUT)/fuzz_json \
		$(FUZZ_OUT)/fuzz_cni

.DELETE_ON_ERROR:
.PHONY: all test unit-test kernel-test check-unit check-man check-deploy deps clean install examples
.PHONY: unit-test-asan fuzz fuzz-build fuzz-smoke bench bench-quick

all: $(OUT)/portrsv $(OUT)/portrsv-cni $(OUT)/libportrsv.so $(OUT)/libportrsv.a $(EXAMPLES)

$(OUT) $(OUT)/lib $(OUT)/cli $(OUT)/tests $(OUT)/examples:
	$(Q)mkdir -p $@

$(OUT)/%.bpf.o: bpf/%.bpf.c $(wildcard include/portrsv/*.h) vmlinux/vmlinux.h | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPFCFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# The loader embeds the BPF object through its skeleton.
$(OUT)/lib/load.o: $(OUT)/portrsv.skel.h

$(OUT)/lib/%.o: user/%.c $(HDRS) | $(OUT)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LIBCFLAGS) -c $< -o $@

$(OUT)/libportrsv.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUT)/libportrsv.so.$(SOVER): $(LIB_OBJS) user/libportrsv.map
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,--version-script=user/libportrsv.map \
		-Wl,-soname,libportrsv.so.$(SOVER) -o $@ $(LIB_OBJS) $(LIBBPF_LIBS)

$(OUT)/libportrsv.so: $(OUT)/libportrsv.so.$(SOVER)
	$(Q)ln -sf libportrsv.so.$(SOVER) $@

$(OUT)/cli/%.o: user/cli/%.c $(HDRS) | $(OUT)/cli
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/portrsv: $(CLI_OBJS) $(OUT)/libportrsv.a
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJS) $(OUT)/libportrsv.a $(LIBBPF_LIBS) $(JSONC_LIBS)

# The CNI plugin (portrsv-cni(8)): a release build, like the command; json-c reads its config.
CNI_SRCS := user/cni/portrsv-cni.c user/cni/config.c
$(OUT)/portrsv-cni: $(CNI_SRCS) user/cni/config.h $(OUT)/libportrsv.a $(HDRS)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) -Iuser/cni $(LDFLAGS) -o $@ $(CNI_SRCS) $(OUT)/libportrsv.a $(LIBBPF_LIBS) $(JSONC_LIBS)

$(OUT)/examples/%: examples/%.c $(OUT)/libportrsv.so | $(OUT)/examples
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -L$(OUT) -l:libportrsv.so -Wl,-rpath,'$$ORIGIN/..'

examples: $(EXAMPLES)

# Fault injection (PORTRSV_FAULT, for the crash tests) exists in test builds only: the library
# and command that the tests use link fault-test.o where the release has a no-op fault.o.
TEST_LIB_OBJS := $(filter-out $(OUT)/lib/fault.o,$(LIB_OBJS)) $(OUT)/lib/fault-test.o

$(OUT)/lib/fault-test.o: user/fault.c $(HDRS) | $(OUT)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LIBCFLAGS) -DPORTRSV_FAULTS -c $< -o $@

$(OUT)/libportrsv-test.a: $(TEST_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUT)/test-bin:
	$(Q)mkdir -p $@

$(OUT)/test-bin/portrsv: $(CLI_OBJS) $(OUT)/libportrsv-test.a | $(OUT)/test-bin
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJS) $(OUT)/libportrsv-test.a $(LIBBPF_LIBS) $(JSONC_LIBS)

# Tests link the static library: they may reach internals (parse, cgroup, netns helpers).
$(OUT)/tests/%: tests/%.c tests/testlib.h tests/json.h tests/clirun.h $(OUT)/libportrsv-test.a $(HDRS) | $(OUT)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) -Wno-format-truncation -Itests -o $@ $< $(OUT)/libportrsv-test.a $(LIBBPF_LIBS) $(JSONC_LIBS) -lcriterion -lpthread

unit-test: $(UNIT_TESTS)
	$(Q)for t in $(UNIT_TESTS); do echo "== $$t"; $$t || exit 1; done

# The command under test is the test build (with fault injection); PORTRSV_RELEASE_BIN is the
# one that ships, for the test that it has none.
kernel-test: $(KERNEL_TESTS) $(OUT)/test-bin/portrsv $(OUT)/portrsv $(OUT)/portrsv-cni $(EXAMPLES)
	$(Q)for t in $(KERNEL_TESTS); do echo "== $$t"; \
		PORTRSV_BIN=$(abspath $(OUT)/test-bin/portrsv) \
		PORTRSV_CNI_BIN=$(abspath $(OUT)/portrsv-cni) \
		PORTRSV_RELEASE_BIN=$(abspath $(OUT)/portrsv) \
		PORTRSV_EXAMPLES=$(abspath $(OUT)/examples) $$t || exit 1; done

# Debian's own kernels (6.1 stock, 6.12 backports) booted in QEMU: the smoke path and the kernel
# tests inside each; one line per kernel. KERNEL_MATRIX="6.1 6.12", KERNEL_MATRIX_TESTS="...".
.PHONY: kernel-matrix
kernel-matrix: all $(KERNEL_TESTS) $(OUT)/test-bin/portrsv
	$(Q)scripts/kernel-matrix.sh

# systemd-analyze verify wants the ExecStart binary and the man page where it looks for them.
check-unit: $(OUT)/portrsv
	$(Q)rm -rf $(OUT)/unit && mkdir -p $(OUT)/unit/man8 && cp man/portrsv.8 $(OUT)/unit/man8/
	$(Q)for u in $(UNITS); do sed 's|@BINDIR@|$(abspath $(OUT))|' $$u > $(OUT)/unit/$${u##*/}; done
	$(Q)out=$$(MANPATH=$(abspath $(OUT)/unit) systemd-analyze verify \
		$(addprefix $(OUT)/unit/,$(notdir $(UNITS))) 2>&1) && [ -z "$$out" ] || \
		{ echo "check-unit: $$out"; exit 1; } # a warning is a failure too
	@echo "check-unit: systemd-analyze verify accepts $(UNITS)"

# The man pages: groff and mandoc lint, and no drift from the code (tests/check-man.sh).
check-man:
	$(Q)tests/check-man.sh

# deploy/kubernetes without a cluster: the manifests parsed (python3-yaml) and the fields the
# DaemonSet relies on checked, the conflist editor and the init step run on samples.
check-deploy:
	$(Q)tests/deploy.sh

test: all unit-test kernel-test check-unit check-man check-deploy check-install check-completion

$(ASAN_OUT)/lib $(ASAN_OUT)/tests $(FUZZ_OUT):
	$(Q)mkdir -p $@

$(ASAN_OUT)/lib/load.o: $(OUT)/portrsv.skel.h

# With fault injection, as the unit tests' library: they kill children at its points.
$(ASAN_OUT)/lib/%.o: user/%.c $(HDRS) | $(ASAN_OUT)/lib
	$(call msg,CC-ASAN,$@)
	$(Q)$(CC) $(CFLAGS) $(LIBCFLAGS) $(SANFLAGS) -DPORTRSV_FAULTS -c $< -o $@

$(ASAN_OUT)/libportrsv.a: $(ASAN_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(ASAN_OUT)/tests/%: tests/%.c tests/testlib.h tests/json.h tests/clirun.h $(ASAN_OUT)/libportrsv.a $(HDRS) | $(ASAN_OUT)/tests
	$(call msg,CCLD-ASAN,$@)
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -Wno-format-truncation -Itests -o $@ $< \
		$(ASAN_OUT)/libportrsv.a $(LIBBPF_LIBS) $(JSONC_LIBS) -lcriterion

# Criterion runs each test in a worker process and judges it by the events the worker sends,
# not by how it exits: LeakSanitizer reports at the worker's exit, after "passed", and its
# exit status is ignored. abort_on_error=1 makes that report a crash in teardown, which fails
# the run; log_path keeps every report, and any report fails the target even if the runner
# let it pass.
unit-test-asan: $(ASAN_UNIT_TESTS)
	$(Q)rm -rf $(ASAN_OUT)/logs && mkdir -p $(ASAN_OUT)/logs
	$(Q)status=0; for t in $(ASAN_UNIT_TESTS); do echo "== $$t"; \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$(abspath $(ASAN_OUT))/logs/asan \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$$t || { status=1; break; }; done; \
	for l in $(ASAN_OUT)/logs/*; do [ -e "$$l" ] || continue; cat "$$l"; status=1; done; \
	exit $$status

# fuzz_json also takes the command's JSON writer.
$(FUZZ_OUT)/fuzz_json: FUZZ_EXTRA := user/cli/json.c
$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRCS) user/store.c user/cli/json.c $(HDRS) | $(FUZZ_OUT)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(LIBBPF_CFLAGS) -o $@ $< $(FUZZ_SRCS) $(FUZZ_EXTRA) $(JSONC_LIBS)

# The CNI config parser needs json-c and the plugin's own sources.
$(FUZZ_OUT)/fuzz_cni: tests/fuzz/fuzz_cni.c user/cni/config.c user/cni/config.h $(FUZZ_SRCS) $(HDRS) | $(FUZZ_OUT)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Iuser/cni -o $@ $< user/cni/config.c $(FUZZ_SRCS) $(JSONC_LIBS)

fuzz-build: $(FUZZERS)

# The seeds in tests/fuzz/corpus/ are read, never written: new inputs go to build/fuzz/.
fuzz: $(FUZZERS)
	$(Q)for f in store args json cni; do echo "== fuzz_$$f, $(FUZZ_SECONDS) s"; \
		mkdir -p $(FUZZ_OUT)/corpus/$$f $(FUZZ_OUT)/crash-$$f || exit 1; \
		dict=; if [ -f tests/fuzz/$$f.dict ]; then dict=-dict=tests/fuzz/$$f.dict; fi; \
		$(FUZZ_OUT)/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-print_final_stats=1 $$dict -artifact_prefix=$(FUZZ_OUT)/crash-$$f/ \
			$(FUZZ_OUT)/corpus/$$f tests/fuzz/corpus/$$f || exit 1; done

fuzz-smoke:
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

# Benchmarks (issue 4): the cost of enforcement next to no enforcement and Landlock, as root.
$(OUT)/bench: tests/bench/bench.c $(OUT)/libportrsv.a $(HDRS)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) -Wno-format-truncation -o $@ $< $(OUT)/libportrsv.a $(LIBBPF_LIBS) -lm

# The full run: prints the table, keeps it with the CSV and the chart in build/bench-results/.
bench: $(OUT)/bench $(OUT)/portrsv-cni
	$(Q)BENCH=$(OUT)/bench tests/bench/run.sh

# What CI runs: proves the benchmark works in seconds; its figures are too noisy to read.
bench-quick: $(OUT)/bench $(OUT)/portrsv-cni
	$(Q)$(OUT)/bench --quick

deps:
	$(Q)scripts/deps.sh --test

# Install layout. Every directory can be overridden on the command line; debian/rules passes
# PREFIX=/usr LIBDIR=/usr/lib/$(DEB_HOST_MULTIARCH). The command is an administrator's tool
# (portrsv(8)), so it goes to sbin, as Debian puts such tools, and the unit's ExecStart follows.
SBINDIR    ?= $(PREFIX)/sbin
LIBDIR     ?= $(PREFIX)/lib
INCDIR     ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR     ?= $(PREFIX)/share/man
# CNI plugins: $(PREFIX)/lib/cni, which is Debian's /usr/lib/cni (containernetworking-plugins)
# under PREFIX=/usr; podman also searches /usr/local/lib/cni.
CNIDIR     ?= $(PREFIX)/lib/cni
# Under /usr, units and completions go where the system's systemd and bash-completion say they
# look; under any other prefix they stay inside it (systemd reads /usr/local/lib/systemd/system,
# bash-completion reads $XDG_DATA_DIRS/bash-completion/completions), so that a PREFIX install
# never writes outside PREFIX. UNITDIR= and COMPLETIONDIR= override both.
ifeq ($(patsubst %/,%,$(PREFIX)),/usr)
UNITDIR_DEFAULT := $(or $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null),/usr/lib/systemd/system)
COMPLETIONDIR_DEFAULT := $(or $(shell $(PKG_CONFIG) --variable=completionsdir bash-completion 2>/dev/null),/usr/share/bash-completion/completions)
else
UNITDIR_DEFAULT := $(PREFIX)/lib/systemd/system
COMPLETIONDIR_DEFAULT := $(PREFIX)/share/bash-completion/completions
endif
UNITDIR       ?= $(UNITDIR_DEFAULT)
COMPLETIONDIR ?= $(COMPLETIONDIR_DEFAULT)

# What install puts in place, named once so that uninstall removes exactly that. Man pages and
# units are whatever man/ and scripts/ hold; a page's section is its file name's suffix.
MANPAGES   := $(sort $(wildcard man/*.[0-9]))
UNITS      := $(sort $(wildcard scripts/*.service scripts/*.path scripts/*.socket scripts/*.timer))
INST_HDRS  := $(sort $(wildcard include/portrsv/*.h))
COMPLETION := scripts/portrsv.bash-completion

# portrsv.pc names its directories relative to ${prefix} where they lie under PREFIX, so that
# `pkg-config --define-prefix` finds a tree that was moved. pkgconf takes the prefix to be two
# levels above the .pc file (PREFIX/lib/pkgconfig): with a multiarch LIBDIR, one level deeper,
# --define-prefix cannot work by pkgconf's own rule; the Debian packages are never moved.
pc_path = $(if $(filter $(PREFIX)/%,$(1)),$${prefix}$(patsubst $(PREFIX)%,%,$(1)),$(1))

.PHONY: uninstall check-install check-completion deb pkg-test

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(INCDIR)/portrsv $(DESTDIR)$(UNITDIR) $(DESTDIR)$(COMPLETIONDIR) \
		$(DESTDIR)$(CNIDIR)
	install -m 0755 $(OUT)/portrsv $(DESTDIR)$(SBINDIR)/portrsv
	install -m 0755 $(OUT)/portrsv-cni $(DESTDIR)$(CNIDIR)/portrsv-cni
	install -m 0644 $(OUT)/libportrsv.a $(DESTDIR)$(LIBDIR)/libportrsv.a
	install -m 0644 $(OUT)/libportrsv.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libportrsv.so.$(SOVER)
	ln -sfn libportrsv.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libportrsv.so
	install -m 0644 include/portrsv.h $(DESTDIR)$(INCDIR)/portrsv.h
	install -m 0644 $(INST_HDRS) $(DESTDIR)$(INCDIR)/portrsv/
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(call pc_path,$(LIBDIR))' \
		'includedir=$(call pc_path,$(INCDIR))' '' 'Name: portrsv' \
		'Description: Persistent port reservations enforced by cgroup BPF programs' \
		'Version: $(VERSION)' 'Requires.private: libbpf' \
		'Libs: -L$${libdir} -lportrsv' 'Cflags: -I$${includedir}' \
		> $(DESTDIR)$(PKGCONFIGDIR)/portrsv.pc
	install -m 0644 $(COMPLETION) $(DESTDIR)$(COMPLETIONDIR)/portrsv
	$(Q)set -e; for u in $(UNITS); do d=$(DESTDIR)$(UNITDIR)/$${u##*/}; \
		echo "sed 's|@BINDIR@|$(SBINDIR)|g' $$u > $$d"; \
		sed 's|@BINDIR@|$(SBINDIR)|g' $$u > $$d; chmod 0644 $$d; done
	$(Q)set -e; for m in $(MANPAGES); do d=$(DESTDIR)$(MANDIR)/man$${m##*.}; \
		install -d $$d; if [ -L $$m ]; then echo "ln -sfn $$(readlink $$m) $$d/$${m##*/}"; \
			ln -sfn "$$(readlink $$m)" $$d/$${m##*/}; \
		else echo "install -m 0644 $$m $$d/"; install -m 0644 $$m $$d/; fi; done

# Exactly what install put there; of the directories, only the one that is portrsv's alone.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/portrsv $(DESTDIR)$(CNIDIR)/portrsv-cni $(DESTDIR)$(LIBDIR)/libportrsv.a \
		$(DESTDIR)$(LIBDIR)/libportrsv.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libportrsv.so \
		$(DESTDIR)$(INCDIR)/portrsv.h $(addprefix $(DESTDIR)$(INCDIR)/portrsv/,$(notdir $(INST_HDRS))) \
		$(DESTDIR)$(PKGCONFIGDIR)/portrsv.pc $(DESTDIR)$(COMPLETIONDIR)/portrsv \
		$(addprefix $(DESTDIR)$(UNITDIR)/,$(notdir $(UNITS)))
	$(Q)for m in $(MANPAGES); do echo "rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}"; \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; done
	$(Q)if [ -d $(DESTDIR)$(INCDIR)/portrsv ]; then rmdir --ignore-fail-on-non-empty $(DESTDIR)$(INCDIR)/portrsv; fi

# install, a moved tree found with pkg-config --define-prefix, uninstall: in scratch DESTDIRs.
check-install: all
	$(Q)tests/install.sh

check-completion:
	$(Q)tests/completion.sh

# portrsv-cni end to end under rootful podman (CNI backend), in private namespaces (issue 11).
.PHONY: podman-test
podman-test: $(OUT)/portrsv $(OUT)/portrsv-cni
	$(Q)PORTRSV_RELEASE_BIN=$(abspath $(OUT)/portrsv) PORTRSV_CNI_BIN=$(abspath $(OUT)/portrsv-cni) \
		tests/podman_cni.sh

# Debian packages into build/deb/, and the installed packages' smoke test (root).
deb:
	$(Q)scripts/build-deb.sh

pkg-test:
	$(Q)scripts/pkg-test.sh

clean:
	rm -rf $(OUT)
