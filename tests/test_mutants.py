"""The mutation gate's mutant file and driver (tb/mutants.py, tb/mutants.toml).

`make mutants` itself is long and stays out of `make test`; these tests keep
its input honest (every snippet still occurs exactly once in rtl/, so a
design edit that makes a mutant stale fails here) and show the driver's
verdicts on cheap command checks, plus one real mutant built with Verilator
and killed by the smoke test.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tb import mutants

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_CATEGORIES = {"rule1", "rule2", "itag", "range", "pasid", "pagesize", "perm", "reserved", "axi", "walker",
                       "handshake", "plru", "pwc"}


def test_mutant_file_is_well_formed_and_current():
    cfg = mutants.load()
    mutants.validate(cfg)   # raises ConfigError naming file:line, mutant and field on a stale snippet
    live = [m for m in cfg.mutants if not m.equivalent]
    assert len(live) >= 30, f"only {len(live)} non-equivalent mutants"
    missing = REQUIRED_CATEGORIES - {m.category for m in live}
    assert not missing, f"no non-equivalent mutant in categories {sorted(missing)}"
    assert all(m.line > 0 for m in cfg.mutants), "every mutant's line must be found (error messages cite it)"
    for m in cfg.mutants:
        assert (ROOT / "rtl" / m.file).is_file(), m
        assert m.breaks.strip() and m.category in REQUIRED_CATEGORIES | {"lookup"}, m
    names = [c.name for c in cfg.checks]
    assert "smoke" in names and any(c.module == "tb.test_directed" for c in cfg.checks), names


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "m.toml"
    p.write_text(text)
    return p


CHECK = '[[check]]\nname = "c"\ncommand = ["true"]\n\n'


@pytest.mark.parametrize("body,needle", [
    ('[[mutant]]\nid = "gone"\nfile = "atc.sv"\nfind = "no such text in the design"\nreplace = "x"\n'
     'breaks = "b"\ncategory = "rule1"\n', "mutant gone: field 'find': snippet occurs 0 times in rtl/atc.sv"),
    ('[[mutant]]\nid = "twice"\nfile = "atc.sv"\nfind = "always_comb"\nreplace = "x"\n'
     'breaks = "b"\ncategory = "rule1"\n', "mutant twice: field 'find': snippet occurs"),
    ('[[mutant]]\nid = "nofile"\nfile = "nope.sv"\nfind = "a"\nreplace = "b"\nbreaks = "b"\ncategory = "rule1"\n',
     "field 'file': rtl/nope.sv does not exist"),
])
def test_stale_mutant_is_an_error_naming_file_line_and_id(tmp_path, body, needle):
    cfg = mutants.load(_write(tmp_path, CHECK + body))
    with pytest.raises(mutants.ConfigError) as e:
        mutants.validate(cfg)
    msg = str(e.value)
    assert needle in msg and ":6: " in msg and "\n" not in msg, msg


@pytest.mark.parametrize("body,needle", [
    ('[[mutant]]\nid = "m"\nfile = "atc.sv"\nfind = "a"\nreplace = "b"\ncategory = "rule1"\n',
     ":6: mutant #1: field 'breaks' missing"),
    ('[[mutant]]\nid = "m"\nfile = "atc.sv"\nfind = "a"\nreplace = "a"\nbreaks = "b"\ncategory = "c"\n',
     "field 'replace' equals 'find'"),
    ('[[mutant]]\nid = "m"\nfile = "atc.sv"\nfind = "a"\nreplace = "b"\nbreaks = "b"\ncategory = "c"\n'
     'equivalent = ""\n', "field 'equivalent' must be the reason"),
    ('[[mutant]]\nid = "m"\nfile = "atc.sv"\nfind = "a"\nreplace = "b"\nbreaks = "b"\ncategory = "c"\nfoo = 1\n',
     "unknown field(s) ['foo']"),
    ('[[mutant]\n', "m.toml: "),
])
def test_malformed_entries_give_one_line_errors(tmp_path, body, needle):
    with pytest.raises(mutants.ConfigError) as e:
        mutants.load(_write(tmp_path, CHECK + body))
    assert needle in str(e.value) and "\n" not in str(e.value), str(e.value)


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tb.mutants", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_driver_verdicts_with_command_checks(tmp_path):
    """Killed, survived and equivalent mutants, the baseline, the report and the exit code (no Verilator)."""
    probe = ("import sys; t = open(sys.argv[1] + '/inv.sv').read(); "
             "sys.exit(1 if 'MUTANT_SEEN' in t else 0)")
    cfg = _write(tmp_path, f"""
[[check]]
name = "probe"
command = ["${{PYTHON}}", "-c", "{probe}", "${{ATS_RTL_DIR}}"]

[[check]]
name = "absent"
make_target = "no_such_target_here"

[[check]]
name = "not_yet"
command = ["false"]
requires = "no/such/file.py"

[[mutant]]
id = "seen"
file = "inv.sv"
find = "module inv #("
replace = "module inv #( // MUTANT_SEEN"
breaks = "the probe sees it"
category = "itag"

[[mutant]]
id = "unseen"
file = "inv.sv"
find = "endmodule"
replace = "endmodule // other"
breaks = "the probe cannot see it"
category = "itag"

[[mutant]]
id = "eq"
file = "inv.sv"
find = "endmodule"
replace = "endmodule // eq"
breaks = "nothing"
category = "itag"
equivalent = "a comment"
""")
    out = tmp_path / "out"
    r = _run(["--config", str(cfg), "--out", str(out), "-j", "2"])
    assert r.returncode == 1, r.stdout + r.stderr             # `unseen` survives
    assert "baseline (unmutated rtl/): all checks pass" in r.stdout, r.stdout
    assert "SURVIVED: unseen" in r.stderr, r.stderr
    res = json.loads((out / "results.json").read_text())
    by_id = {m["id"]: m for m in res["mutants"]}
    assert by_id["seen"]["status"] == "killed" and by_id["seen"]["killed_by"] == "probe", by_id["seen"]
    assert by_id["unseen"]["status"] == "survived", by_id["unseen"]
    assert [c["result"] for c in by_id["unseen"]["checks"]] == ["pass", "skipped (no make target)",
                                                              "skipped (no/such/file.py missing)"]
    assert by_id["eq"]["status"] == "equivalent (not run)", by_id["eq"]
    s = res["summary"]
    assert (s["killed"], s["survived"], s["equivalent"], s["kill_rate"]) == (1, 1, 1, 0.5), s
    md = (out / "report.md").read_text()
    assert "| `seen` |" in md and "## Equivalent mutants" in md and "a comment" in md, md
    # only the killed one: exit 0; the equivalent one run on request must survive
    r = _run(["--config", str(cfg), "--out", str(out), "--only", "seen,eq", "--no-baseline"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads((out / "results.json").read_text())["mutants"][2]["status"] == "equivalent"


def test_stale_snippet_stops_the_run(tmp_path):
    cfg = _write(tmp_path, CHECK + '[[mutant]]\nid = "gone"\nfile = "atc.sv"\nfind = "no such text"\n'
                 'replace = "x"\nbreaks = "b"\ncategory = "rule1"\n')
    r = _run(["--config", str(cfg), "--out", str(tmp_path / "out")])
    assert r.returncode == 2 and "mutant gone" in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.rtl
def test_smoke_kills_a_mutant_that_breaks_translation(tmp_path):
    """End to end with Verilator: a DMA that drops the page offset is killed by the smoke test."""
    cfg = _write(tmp_path, """
[[check]]
name = "smoke"
module = "tb.smoke_test"
params = { PwcEntries = 8 }
env = { SMOKE_PWC = "1" }

[[mutant]]
id = "no_page_offset"
file = "dma.sv"
find = "saddr[t*PaWidth +: PaWidth] = {ppn_q[t*PpnW +: PpnW], va_q[t*48 +: 12]};"
replace = "saddr[t*PaWidth +: PaWidth] = {ppn_q[t*PpnW +: PpnW], 12'h0};"
breaks = "every access goes to offset 0 of its page"
category = "walker"
""")
    out = tmp_path / "out"
    # reuse the Verilator runtime objects of the regular build when another test made it (half the build time)
    built = ROOT / "build" / "rtl" / "ats_dev_top_PwcEntries8_nowave"
    files = [built / f"{n}{ext}" for n in mutants._RUNTIME for ext in (".o", ".d")]
    if all(f.is_file() for f in files):
        seed = mutants.seed_dir(out, built.name)
        seed.mkdir(parents=True)
        for f in files:
            shutil.copy2(f, seed / f.name)
    r = _run(["--config", str(cfg), "--out", str(out), "--no-baseline", "-j", "1"])
    assert r.returncode == 0, r.stdout + r.stderr
    m = json.loads((out / "results.json").read_text())["mutants"][0]
    assert m["status"] == "killed" and m["killed_by"].startswith("smoke:"), m
    assert not (out / "work" / "no_page_offset" / "build").exists(), "a killed mutant's build is removed"
