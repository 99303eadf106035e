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
