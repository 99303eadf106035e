"""Data flows one way: model/ (host model, checkers) never imports tb/ (simulator bindings).

The check reads every module of model/ with the ast module, so a lazy import
inside a function counts as much as one at the top.
"""
from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tb_imports(path: Path) -> list[str]:
    """Every `import tb...` / `from tb... import` in one file, as 'file:line: statement'."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        if any(n == "tb" or n.startswith("tb.") for n in names):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_model_never_imports_tb():
    bad = [hit for p in sorted((ROOT / "model").rglob("*.py")) for hit in tb_imports(p)]
    assert not bad, "model/ imports tb/:\n" + "\n".join(bad)


def test_the_layering_check_fires_on_a_lazy_import(tmp_path, monkeypatch):
    """Known-bad case: a function-level `from tb.rtldev import ...` is found."""
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    f = tmp_path / "bad.py"
    f.write_text("def f():\n    from tb.rtldev import run_scenario_rtl\n    import tb\n    from model import x\n")
    assert tb_imports(f) == ["bad.py:2: from tb.rtldev import run_scenario_rtl", "bad.py:3: import tb"]


# --------------------------------------------------------------------------- import cycles

#: cycles that exist today and are known; a new cycle fails the test. Each entry is the
#: set of modules of one strongly connected component of the import graph.
KNOWN_CYCLES = [
    {"model.scenario", "model.scheduler"},
    {"model.counterexample", "model.dpor", "model.explore"},
]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path, packages: tuple[str, ...] = ("model", "tb")) -> dict[str, set[str]]:
    """module -> the project modules it imports (at the top or inside a function; relative
    imports resolved; `from pkg import mod` counts as importing pkg.mod)."""
    files = {module_name(p, root): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in files)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                if mod in files:
                    deps.add(mod)
                deps.update(f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in files)
        deps.discard(name)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = set()
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.add(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(comp)
    return out


@functools.cache
def project_graph() -> dict[str, set[str]]:
    return import_graph(ROOT)


def test_no_new_import_cycles():
    new = [sorted(c) for c in cycles(project_graph()) if c not in KNOWN_CYCLES]
    assert not new, "import cycles among model/ and tb/ modules: " + "; ".join(" <-> ".join(c) for c in new)


def test_the_cycle_check_fires_on_a_lazy_cycle_and_a_relative_import(tmp_path):
    """Known-bad case: tb.a imports tb.b at the top, tb.b imports tb.a inside a function;
    model.x and model.y import each other relatively; model.z only imports, no cycle."""
    (tmp_path / "tb").mkdir()
    (tmp_path / "model").mkdir()
    (tmp_path / "tb" / "__init__.py").write_text("")
    (tmp_path / "tb" / "a.py").write_text("from tb import b\n")
    (tmp_path / "tb" / "b.py").write_text("def f():\n    import tb.a\n")
    (tmp_path / "model" / "__init__.py").write_text("")
    (tmp_path / "model" / "x.py").write_text("from .y import thing\n")
    (tmp_path / "model" / "y.py").write_text("from . import x\n")
    (tmp_path / "model" / "z.py").write_text("from model.x import thing\n")
    found = sorted(sorted(c) for c in cycles(import_graph(tmp_path)))
    assert found == [["model.x", "model.y"], ["tb.a", "tb.b"]], found


def test_the_stress_tools_and_the_cosim_server_do_not_import_each_other():
    g = project_graph()
    assert "tb.stress" not in g["tb.cosim_server"] and "tb.cosim_server" not in g["tb.stress"]
    assert "tb" not in {m.split(".")[0] for m in g["model.random_scenario"]}
