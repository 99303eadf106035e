"""Data flows one way: model/ (host model, checkers) never imports tb/ (simulator bindings).

The check reads every module of model/ with the ast module, so a lazy import
inside a function counts as much as one at the top.
"""
from __future__ import annotations

import ast
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
#
# No two modules of model/ and tb/ may import each other, directly or through others.
# Every import that runs counts, at the top of a module or inside a function: a lazy
# import only postpones the cycle to the first call, and the two modules still cannot be
# read, tested or moved one without the other (both cycles this check was written for,
# model/scenario.py <-> model/scheduler.py and tb/cosim_server.py <-> tb/stress.py, were
# function-local). Two kinds of import never run as part of the importing module and do
# not count: those under `if TYPE_CHECKING:` (annotations only) and those under
# `if __name__ == "__main__":` (they run only when the file is the program, as module
# __main__, which no other module imports).

# Cycles known and being removed, each exactly as the set of modules in it. An entry
# that no longer matches a cycle fails test_known_cycles_still_exist: delete it then.
KNOWN_CYCLES: list[frozenset[str]] = []


def _skipped_block(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:` and `if __name__ == "__main__":` bodies (see above)."""
    if not isinstance(node, ast.If):
        return False
    t = ast.unparse(node.test).replace("'", '"')
    return t in ("TYPE_CHECKING", "typing.TYPE_CHECKING", '__name__ == "__main__"')


def module_names(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `packages` under `root`."""
    mods = {}
    for pkg in packages:
        for p in sorted((root / pkg).rglob("*.py")):
            parts = p.relative_to(root).with_suffix("").parts
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return mods


def module_imports(name: str, path: Path, mods: dict[str, Path]) -> dict[str, int]:
    """The modules of `mods` that module `name` imports (see above), each with the line of its first import."""
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, int] = {}

    def target(dotted: str, line: int) -> None:
        while dotted and dotted not in mods:  # `from a.b import f`: f is no module, a.b is
            dotted = dotted.rpartition(".")[0]
        if dotted and dotted != name:
            found.setdefault(dotted, line)

    def visit(node: ast.AST) -> None:
        for ch in ast.iter_child_nodes(node):
            if _skipped_block(ch):
                for sub in ch.orelse:
                    visit(ast.Module(body=[sub], type_ignores=[]))
                continue
            if isinstance(ch, ast.Import):
                for a in ch.names:
                    target(a.name, ch.lineno)
            elif isinstance(ch, ast.ImportFrom):
                if ch.level:
                    base = pkg.split(".")[:len(pkg.split(".")) - (ch.level - 1)]
                    mod = ".".join(base + ([ch.module] if ch.module else []))
                else:
                    mod = ch.module or ""
                for a in ch.names:
                    target(f"{mod}.{a.name}", ch.lineno)
            visit(ch)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return found


def import_cycles(graph: dict[str, dict[str, int]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan), i.e. every import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[frozenset[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def describe_cycle(comp: frozenset[str], graph: dict[str, dict[str, int]], mods: dict[str, Path],
                   root: Path) -> str:
    edges = [f"  {mods[a].relative_to(root)}:{line} imports {b}"
             for a in sorted(comp) for b, line in sorted(graph[a].items()) if b in comp]
    return "import cycle among " + ", ".join(sorted(comp)) + ":\n" + "\n".join(edges)


def cycles_in(root: Path, packages: tuple[str, ...]) -> tuple[list[frozenset[str]], list[str]]:
    mods = module_names(root, packages)
    graph = {n: module_imports(n, p, mods) for n, p in mods.items()}
    cycles = import_cycles(graph)
    return cycles, [describe_cycle(c, graph, mods, root) for c in cycles]


def test_no_import_cycles_in_model_and_tb():
    cycles, text = cycles_in(ROOT, ("model", "tb"))
    bad = [t for c, t in zip(cycles, text) if c not in KNOWN_CYCLES]
    assert not bad, "\n".join(bad)


def test_known_cycles_still_exist():
    """An allow-listed cycle that was removed must leave KNOWN_CYCLES, so the check tightens."""
    cycles, _ = cycles_in(ROOT, ("model", "tb"))
    gone = [sorted(k) for k in KNOWN_CYCLES if k not in cycles]
    assert not gone, f"no longer a cycle, delete from KNOWN_CYCLES in {Path(__file__).name}: {gone}"


def test_the_cycle_check_fires(tmp_path):
    """Known-bad case: a top-level import one way and a function-local one back is a cycle,
    found with the lines at fault; a TYPE_CHECKING or __main__ import back is none."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import f\n\ndef g():\n    return f()\n")
    (pkg / "b.py").write_text("def f():\n    from pkg import a\n    return a\n")
    # c <-> d only through an annotation-only import, e <-> f only through e's __main__ block: no cycles
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .d import D\n")
    (pkg / "d.py").write_text("from pkg.c import TYPE_CHECKING\n")
    (pkg / "e.py").write_text("X = 1\nif __name__ == '__main__':\n    from pkg.f import main\n    main()\n")
    (pkg / "f.py").write_text("from pkg.e import X\n\ndef main():\n    return X\n")
    cycles, text = cycles_in(tmp_path, ("pkg",))
    assert cycles == [frozenset({"pkg.a", "pkg.b"})], text
    assert text == ["import cycle among pkg.a, pkg.b:\n  pkg/a.py:1 imports pkg.b\n  pkg/b.py:2 imports pkg.a"]


def test_the_stress_tools_and_the_cosim_server_do_not_import_each_other():
    mods = module_names(ROOT, ("model", "tb"))
    g = {n: module_imports(n, p, mods) for n, p in mods.items()}
    assert "tb.stress" not in g["tb.cosim_server"] and "tb.cosim_server" not in g["tb.stress"]
    assert "tb" not in {m.split(".")[0] for m in g["model.random_scenario"]}
