# portrsv: persistent port reservations for Linux, enforced by cgroup BPF programs.
#   make            build/portrsv, build/libportrsv.so, build/libportrsv.a
#   make test       build and run every test (kernel tests need root)
#   make deps       install the Debian packages the build and tests need
#   make install    PREFIX=/usr/local DESTDIR=
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

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS   ?= -O2 -g
CFLAGS   += $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -I$(OUT) $(LIBBPF_CFLAGS)
LIBCFLAGS := -fPIC -fvisibility=hidden
BPFCFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Ivmlinux -Iinclude -Wall -Werror

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

LIB_SRCS := $(filter-out user/portrsv.c,$(wildcard user/*.c))
LIB_OBJS := $(patsubst user/%.c,$(OUT)/lib/%.o,$(LIB_SRCS))
HDRS     := $(wildcard include/*.h include/portrsv/*.h user/*.h)

UNIT_TESTS   := $(patsubst tests/%.c,$(OUT)/tests/%,$(wildcard tests/unit_*.c))
KERNEL_TESTS := $(patsubst tests/%.c,$(OUT)/tests/%,$(wildcard tests/kernel_*.c))
EXAMPLES     := $(patsubst examples/%.c,$(OUT)/examples/%,$(wildcard examples/*.c))

.DELETE_ON_ERROR:
.PHONY: all test unit-test kernel-test deps clean install examples

all: $(OUT)/portrsv $(OUT)/libportrsv.so $(OUT)/libportrsv.a $(EXAMPLES)

$(OUT) $(OUT)/lib $(OUT)/tests $(OUT)/examples:
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
	$(Q)$(CC) -shared -Wl,--version-script=user/libportrsv.map \
		-Wl,-soname,libportrsv.so.$(SOVER) -o $@ $(LIB_OBJS) $(LIBBPF_LIBS)

$(OUT)/libportrsv.so: $(OUT)/libportrsv.so.$(SOVER)
	$(Q)ln -sf libportrsv.so.$(SOVER) $@

$(OUT)/portrsv: user/portrsv.c $(OUT)/libportrsv.a $(HDRS)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(OUT)/libportrsv.a $(LIBBPF_LIBS)

$(OUT)/examples/%: examples/%.c $(OUT)/libportrsv.so | $(OUT)/examples
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< -L$(OUT) -l:libportrsv.so -Wl,-rpath,'$$ORIGIN/..'

examples: $(EXAMPLES)

# Tests link the static library: they may reach internals (parse, cgroup, netns helpers).
$(OUT)/tests/%: tests/%.c tests/testlib.h $(OUT)/libportrsv.a $(HDRS) | $(OUT)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) -Wno-format-truncation -Itests -o $@ $< $(OUT)/libportrsv.a $(LIBBPF_LIBS) -lcriterion

unit-test: $(UNIT_TESTS)
	$(Q)for t in $(UNIT_TESTS); do echo "== $$t"; $$t || exit 1; done

kernel-test: $(KERNEL_TESTS) $(OUT)/portrsv $(EXAMPLES)
	$(Q)for t in $(KERNEL_TESTS); do echo "== $$t"; \
		PORTRSV_BIN=$(abspath $(OUT)/portrsv) PORTRSV_EXAMPLES=$(abspath $(OUT)/examples) \
		$$t || exit 1; done

test: all unit-test kernel-test

deps:
	$(Q)scripts/deps.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/portrsv
	install -m 0755 $(OUT)/portrsv $(DESTDIR)$(PREFIX)/bin/portrsv
	install -m 0644 $(OUT)/libportrsv.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(OUT)/libportrsv.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libportrsv.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/libportrsv.so
	install -m 0644 include/portrsv.h $(DESTDIR)$(PREFIX)/include/
	install -m 0644 include/portrsv/*.h $(DESTDIR)$(PREFIX)/include/portrsv/

clean:
	rm -rf $(OUT)
