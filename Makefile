# ember — one entry point: make, make test, make bench, make demo, make sanitize, make install
#
# Everything builds into $(BUILD) (default build/); `make BUILD=build-x` keeps a second
# build beside the first. Sources are found by wildcard: a new file in host/ or
# bindings/ needs no edit here.

BUILD    ?= build
CC       ?= cc
PREFIX   ?= /usr/local
OPT      ?= -O2
SANITIZE ?=

LUA_INC  := $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUA_LIB  := $(shell pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)

INCLUDES := -Ihost/include -Ihost/core -Ihost/ops -Ihost/cpu -Ihost/io -Ihost/autograd -Ihost/vk -Ihost/graph -Ihost/rt \
            -Ihost/dist
CFLAGS   := -std=c11 $(OPT) -g -Wall -Wextra -fPIC -fopenmp -fno-math-errno -D_GNU_SOURCE $(SANITIZE) \
            $(INCLUDES) -DEMBER_STDLIB_DIR='"$(abspath stdlib)"' -DEMBER_LIBDIR='"$(PREFIX)/lib"' \
            $(EXTRA_CFLAGS)
LDFLAGS  := -fopenmp $(SANITIZE)
LIBS     := -lopenblas -lvulkan -lm -lpthread

CORE_SRC := $(sort $(wildcard host/core/*.c host/ops/*.c host/cpu/*.c host/io/*.c host/autograd/*.c \
                               host/vk/*.c host/graph/*.c host/rt/*.c host/dist/*.c))
SHADERS  := $(sort $(wildcard shaders/*.comp))
BIND_SRC := $(sort $(wildcard bindings/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/vk_spirv.o
BIND_OBJ := $(BIND_SRC:%.c=$(BUILD)/obj/%.o)
CTEST_SRC := $(sort $(wildcard spec/c/test_*.c))
CTESTS   := $(CTEST_SRC:spec/c/%.c=$(BUILD)/ctest/%)

.PHONY: all deps test sanitize bench demo install clean fuzz lines

all: $(BUILD)/ember $(BUILD)/ember.so $(BUILD)/libember.a $(BUILD)/libember.so \
     $(BUILD)/embed_example $(BUILD)/ember-run $(BUILD)/digits_rt $(BUILD)/libember_mpi.so $(CTESTS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LUA_INC) -MMD -MP -c $< -o $@

-include $(CORE_OBJ:.o=.d) $(BIND_OBJ:.o=.d) $(BUILD)/obj/host/main.d

# the compute shaders, compiled by glslc and embedded as C arrays
$(BUILD)/gen/vk_spirv.c: $(SHADERS) $(wildcard shaders/*.glsl) scripts/build/shaders.sh
	@sh scripts/build/shaders.sh $@ $(BUILD)/spv $(SHADERS)

$(BUILD)/obj/gen/vk_spirv.o: $(BUILD)/gen/vk_spirv.c
	@mkdir -p $(dir $@)
	$(CC) -c -O0 -o $@ $<

$(BUILD)/libember.a: $(CORE_OBJ) $(BIND_OBJ)
	@rm -f $@
	ar rcs $@ $^

# the C library with the embedded host; links Lua
$(BUILD)/libember.so: $(CORE_OBJ) $(BIND_OBJ)
	$(CC) -shared -o $@ $^ $(LDFLAGS) $(LUA_LIB) $(LIBS)

# the Lua module: Lua's symbols come from the interpreter that loads it; nodelete
# keeps it (and libgomp) mapped at exit, while OpenMP workers may still be spinning
$(BUILD)/ember.so: $(CORE_OBJ) $(BIND_OBJ)
	$(CC) -shared -o $@ $^ -Wl,-z,nodelete $(LDFLAGS) $(LIBS)

# -Wl,-E exports the Lua API so C modules (lfs, busted's) load into ember
$(BUILD)/ember: $(BUILD)/obj/host/main.o $(BUILD)/libember.a
	$(CC) -o $@ $< $(BUILD)/libember.a -Wl,-E $(LDFLAGS) $(LUA_LIB) -lreadline $(LIBS)

# collectives speak MPI through this one library, loaded by ember.dist.init() under a
# launcher (host/dist/dist.c); nothing else links libmpi
MPI_FLAGS := $(shell pkg-config --cflags --libs ompi-c 2>/dev/null || echo -lmpi)

$(BUILD)/libember_mpi.so: host/dist/mpi/mpi_shim.c host/dist/mpi_api.h
	$(CC) -std=c11 $(OPT) -g -Wall -Wextra -fPIC -shared $(SANITIZE) -Ihost/dist -o $@ $< $(MPI_FLAGS)

$(BUILD)/embed_example: scripts/embed/embed.c $(BUILD)/libember.a
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libember.a $(LDFLAGS) $(LUA_LIB) $(LIBS)

$(BUILD)/ctest/%: spec/c/%.c $(BUILD)/libember.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LUA_INC) -o $@ $< $(BUILD)/libember.a $(LDFLAGS) $(LUA_LIB) $(LIBS)

deps:
	@sh scripts/deps.sh

test: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh spec/run.sh

# the same suite under AddressSanitizer and UBSan, run by the sanitized ember binary
sanitize: deps
	@$(MAKE) --no-print-directory all BUILD=build-asan OPT=-O1 \
	  SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
	@BUILD=build-asan LUA=build-asan/ember FUZZ_SECONDS=0 \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(abspath spec/support/lsan_mpi.supp):print_suppressions=0 \
	  sh spec/run.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh scripts/bench/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@$(BUILD)/ember scripts/demo.lua $(BUILD)/demo

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/lib/lua/5.4 $(DESTDIR)$(PREFIX)/share/ember/lua/ember
	install -m 755 $(BUILD)/ember $(BUILD)/ember-run $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(BUILD)/libember.a $(BUILD)/libember.so $(BUILD)/libember_mpi.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(BUILD)/ember.so $(DESTDIR)$(PREFIX)/lib/lua/5.4/
	install -m 644 host/include/ember.h $(DESTDIR)$(PREFIX)/include/
	cd stdlib && find ember -name '*.lua' -exec install -D -m 644 {} $(DESTDIR)$(PREFIX)/share/ember/lua/{} \;
	install -D -m 644 data/digits.csv.gz $(DESTDIR)$(PREFIX)/share/ember/data/digits.csv.gz

# libFuzzer on the safetensors and JSON readers: host/core and host/io alone, built by
# clang with ASan and UBSan into $(BUILD)/fuzz; runs FUZZ_SECONDS on a copy of the corpus.
# No -fopenmp: the parallel loops run serially, which keeps a crash reproducible
# (libomp-14-dev is still needed: it ships clang's omp.h, which host/core/iter.c includes).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS  := -std=c11 -O1 -g -fno-omit-frame-pointer -D_GNU_SOURCE \
                -Ihost/include -Ihost/core -Ihost/io \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SRC     := $(sort $(wildcard host/core/*.c host/io/*.c)) spec/fuzz/fuzz_safetensors.c
FUZZ_OBJ     := $(FUZZ_SRC:%.c=$(BUILD)/fuzz/obj/%.o)

-include $(FUZZ_OBJ:.o=.d)

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/fuzz/fuzz_safetensors: $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ -lm

# the runtime's loader: the runtime's own sources (-DEMBER_RT: no autograd, no Vulkan),
# every op, built the same way into $(BUILD)/fuzz/rt-obj; seeds in spec/fuzz/corpus_program
FUZZ_RT_SRC  := $(sort $(wildcard host/core/*.c host/io/*.c host/ops/*.c host/cpu/*.c host/rt/*.c)) \
                spec/fuzz/fuzz_program.c
FUZZ_RT_OBJ  := $(FUZZ_RT_SRC:%.c=$(BUILD)/fuzz/rt-obj/%.o)

-include $(FUZZ_RT_OBJ:.o=.d)

$(BUILD)/fuzz/rt-obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DEMBER_RT -Ihost/ops -Ihost/cpu -Ihost/rt -Ihost/autograd -Ihost/vk \
	  -MMD -MP -c $< -o $@

$(BUILD)/fuzz/fuzz_program: $(FUZZ_RT_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ -lopenblas -lm -lpthread

# half the time each; FUZZ_SECONDS is the whole
fuzz: deps $(BUILD)/fuzz/fuzz_safetensors $(BUILD)/fuzz/fuzz_program
	@sh spec/fuzz/run.sh $(BUILD)/fuzz/fuzz_safetensors $$(( ($(FUZZ_SECONDS) + 1) / 2 ))
	@sh spec/fuzz/run.sh $(BUILD)/fuzz/fuzz_program $$(( ($(FUZZ_SECONDS) + 1) / 2 )) spec/fuzz/corpus_program

# {====== the runtime library: libember_rt runs program files with no Lua
#   make rt                       $(BUILD)/rt/libember_rt.{a,so}: every op, on the CPU
#   make rt PROGRAM=model.ember   $(BUILD)/rt-model/...: only the ops model.ember uses
#   make rt RT_VULKAN=1           $(BUILD)/rt-vk/...: every op, with the Vulkan backend
#   make rt RT_OPS=FILE           only the ops FILE lists, one a line (or none; RT_NAME
#                                 names the folder)
#   make rt-size                  stripped sizes of the .so builds beside their goals
# host/core, ops, cpu, io and rt (and host/vk), never autograd, graph, bindings or Lua:
# -DEMBER_RT empties each op entry's backward slot and Vulkan slot (EMBER_GRAD, EMBER_VK in
# ops.h). Every function and object gets its own section and the link keeps what the
# exported API (ember_rt_*, scripts/build/ember_rt.map) reaches; -z defs proves nothing
# else is needed. The op table holds the chosen entries only: each family file is
# compiled from a copy without the others (scripts/build/rt_ops.c says why and how).
# For size: -Os, but -O2 for the kernels (host/cpu: their loops run about twice as fast
# as at -Os, for a third more bytes); no unwind tables (C needs none; a backtrace through
# the library shows less); code shares its pages with read-only data (-z noseparate-code).
RT_OPS    ?= all
RT_OPT    ?= -Os
RT_KERNEL_OPT ?= -O2
RT_CFLAGS := -std=c11 $(RT_OPT) -Wall -Wextra -fPIC -fopenmp -fno-math-errno -D_GNU_SOURCE \
             -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -DEMBER_RT \
             -Ihost/include -Ihost/core -Ihost/ops -Ihost/cpu -Ihost/io -Ihost/autograd -Ihost/vk \
             -Ihost/rt $(SANITIZE) $(EXTRA_CFLAGS)
RT_LIBS   := -fopenmp $(SANITIZE) -lopenblas -lm -lpthread
RT_FAMILY := $(sort $(wildcard host/ops/ops_*.c))
RT_SRC    := $(filter-out $(RT_FAMILY),$(sort $(wildcard host/core/*.c host/ops/*.c host/cpu/*.c \
                                                        host/io/*.c host/rt/*.c)))
RT_TOOL   := $(BUILD)/rt-tools/rt_ops
RT_OBJDIR := $(BUILD)/rt/obj
RT_EXTRA  :=
ifeq ($(RT_VULKAN),1)
RT_CFLAGS += -DEMBER_RT_WITH_VULKAN
RT_SRC    += $(sort $(wildcard host/vk/*.c))
RT_OBJDIR := $(BUILD)/rt-vk/obj
RT_EXTRA  := $(RT_OBJDIR)/gen/vk_spirv.o
RT_LIBS   += -lvulkan
endif
ifneq ($(PROGRAM),)
$(if $(wildcard $(PROGRAM)),,$(error PROGRAM=$(PROGRAM): no such file))
RT_OPS    := $(BUILD)/rt-$(basename $(notdir $(PROGRAM)))$(if $(filter 1,$(RT_VULKAN)),-vk)/ops.txt
RT_NAME   ?= rt-$(basename $(notdir $(PROGRAM)))$(if $(filter 1,$(RT_VULKAN)),-vk)
endif
RT_NAME   ?= rt$(if $(filter 1,$(RT_VULKAN)),-vk)
RT_DIR    := $(BUILD)/$(RT_NAME)
RT_OBJ    := $(RT_SRC:%.c=$(RT_OBJDIR)/%.o) $(RT_FAMILY:host/ops/%.c=$(RT_DIR)/ops/%.o) $(RT_EXTRA)

.PHONY: rt rt-size

rt: $(RT_DIR)/libember_rt.a $(RT_DIR)/libember_rt.so

$(RT_TOOL): scripts/build/rt_ops.c host/io/json.c host/io/json.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -D_GNU_SOURCE -Ihost/io -o $@ scripts/build/rt_ops.c host/io/json.c

$(RT_OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) $(if $(filter host/cpu/%,$<),$(RT_KERNEL_OPT)) -MMD -MP -c $< -o $@

$(RT_OBJDIR)/gen/vk_spirv.o: $(BUILD)/gen/vk_spirv.c
	@mkdir -p $(dir $@)
	$(CC) -c -O0 -fPIC -fdata-sections -o $@ $<

# the ops a program uses (rewritten only when they change, so that a new program
# with the same ops rebuilds nothing)
$(BUILD)/rt-%/ops.txt: $(PROGRAM) $(RT_TOOL)
	@mkdir -p $(dir $@)
	@$(RT_TOOL) program $(PROGRAM) > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

# a family file holding only the chosen entries; a static function no entry names any
# more is left unused there, which is the point
$(RT_DIR)/ops/%.c: host/ops/%.c $(RT_TOOL) $(filter-out all none,$(RT_OPS))
	@mkdir -p $(dir $@)
	@$(RT_TOOL) filter $(RT_OPS) $< $@

.PRECIOUS: $(RT_DIR)/ops/%.c $(BUILD)/rt-%/ops.txt

$(RT_DIR)/ops/%.o: $(RT_DIR)/ops/%.c
	$(CC) $(RT_CFLAGS) -Wno-unused-function -MMD -MP -c $< -o $@

-include $(RT_OBJ:.o=.d)

$(RT_DIR)/libember_rt.a: $(RT_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(RT_DIR)/libember_rt.so: $(RT_OBJ) scripts/build/ember_rt.map
	$(CC) -shared -o $@ $(RT_OBJ) -Wl,--gc-sections -Wl,-z,defs -Wl,-z,noseparate-code \
	  -Wl,--version-script=scripts/build/ember_rt.map $(RT_LIBS)

# every op; none (the runtime's own code: core, io and host/rt over an empty op table);
# the program given, and each selective build already in $(BUILD)
rt-size:
	@$(MAKE) --no-print-directory rt RT_VULKAN= PROGRAM= RT_NAME=rt
	@$(MAKE) --no-print-directory rt RT_VULKAN= PROGRAM= RT_NAME=rt-none RT_OPS=none
	@if [ -n "$(PROGRAM)" ]; then $(MAKE) --no-print-directory rt RT_VULKAN= PROGRAM=$(PROGRAM); fi
	@sh scripts/build/rt_size.sh $(BUILD)

# }======

# programs of the runtime alone, built from the public headers as a user builds them:
# ember-run and the C example link libember_rt.a and no Lua (RT_VULKAN=1: the Vulkan one)
RUN_CFLAGS := -std=c11 $(OPT) -g -Wall -Wextra -D_GNU_SOURCE $(SANITIZE) -Ihost/include

$(BUILD)/ember-run: host/tools/ember_run.c $(RT_DIR)/libember_rt.a
	$(CC) $(RUN_CFLAGS) -o $@ $< $(RT_DIR)/libember_rt.a $(SANITIZE) $(RT_LIBS)

$(BUILD)/digits_rt: scripts/embed/digits_rt.c $(RT_DIR)/libember_rt.a
	$(CC) $(RUN_CFLAGS) -o $@ $< $(RT_DIR)/libember_rt.a $(SANITIZE) $(RT_LIBS)

# ember-run over the runtime with the Vulkan backend, beside the CPU one (`--device
# vulkan`; scripts/bench/vk_h100.sh times the exported CNN with it)
.PHONY: ember-run-vk
ember-run-vk:
	@$(MAKE) --no-print-directory rt RT_VULKAN=1 PROGRAM=
	$(CC) $(RUN_CFLAGS) -o $(BUILD)/ember-run-vk host/tools/ember_run.c $(BUILD)/rt-vk/libember_rt.a \
	  $(SANITIZE) $(RT_LIBS) -lvulkan

# line count per folder, to keep files small
lines:
	@for d in host/* bindings stdlib/ember spec scripts; do \
	  [ -d $$d ] && printf '%6d  %s\n' $$(cat $$(find $$d -name '*.[ch]' -o -name '*.lua' | sort) /dev/null | wc -l) $$d; done

clean:
	rm -rf build build-asan
