"""The repository stands alone: no file points outside it, every relative link in
the README and docs/ resolves, and the texts and sections the code cites exist.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# spelled in pieces so this file does not match itself
OUTSIDE = re.compile(r"\.\./" + "shared" + "|" + "DESIGN" + r"\.md")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
INTENT_REF = re.compile(r"docs/INTENT\.md,\s*\"([^\"]+)\"")


def tracked() -> list[Path]:
    r = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True,
                       check=True)
    return [ROOT / f for f in r.stdout.splitlines() if f and (ROOT / f).is_file()]


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")


def anchors(md: Path) -> set[str]:
    return {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*?)\s*#*$", md.read_text(), re.M)}


def broken_links(md: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", md.read_text(), flags=re.S)  # links in code blocks are not links
    bad = []
    for target in LINK.findall(text) + REF_LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        path, _, frag = target.partition("#")
        dest = md if not path else (md.parent / path).resolve()
        if not dest.exists():
            bad.append(f"{md.relative_to(ROOT)}: {target} (no {dest})")
        elif not dest.resolve().is_relative_to(ROOT):
            bad.append(f"{md.relative_to(ROOT)}: {target} points outside the repository")
        elif frag and dest.suffix == ".md" and frag not in anchors(dest):
            bad.append(f"{md.relative_to(ROOT)}: {target} (no heading #{frag} in {dest.name})")
    return bad


def test_no_tracked_file_points_outside_the_repository():
    hits = []
    for f in tracked():
        try:
            text = f.read_text()
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert not hits, "files refer to texts a clone does not have:\n" + "\n".join(hits)


def test_every_relative_markdown_link_resolves():
    mds = markdown_files()
    assert len(mds) >= 5
    bad = [b for md in mds for b in broken_links(md)]
    assert not bad, "\n".join(bad)


def test_a_broken_link_is_caught(tmp_path, monkeypatch):
    monkeypatch.setattr(sys_module(), "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "A.md").write_text("# Title\n\n[ok](A.md#title) [gone](B.md) [anchor](A.md#nothing)\n"
                                            "[out](../../../etc/hostname)\n")
    bad = broken_links(tmp_path / "docs" / "A.md")
    assert any("B.md" in b for b in bad) and any("#nothing" in b for b in bad), bad
    assert not any("A.md#title" in b for b in bad), bad
    assert any("outside the repository" in b or "no " in b for b in bad if "hostname" in b), bad


def sys_module():
    import sys

    return sys.modules[__name__]


def test_intent_sections_the_code_cites_exist():
    intent = (ROOT / "docs" / "INTENT.md").read_text()
    h2 = re.findall(r"^## (.+)$", intent, re.M)
    sections = set(h2)
    current = None
    for line in intent.splitlines():  # "Checkers: Ordering" names a ### under ## Checkers
        if line.startswith("## "):
            current = line[3:].strip()
        elif line.startswith("### ") and current:
            sections.add(f"{current}: {line[4:].strip()}")
    cited = {}
    for f in [*ROOT.glob("model/**/*.py"), *ROOT.glob("tb/*.py")]:
        for name in INTENT_REF.findall(f.read_text()):
            cited.setdefault(name, []).append(str(f.relative_to(ROOT)))
    assert len(cited) >= 6, cited
    missing = {n: fs for n, fs in cited.items() if n not in sections}
    assert not missing, f"sections cited but not in docs/INTENT.md: {missing}"
    for rule in ("Ordering", "Lost device write", "Use-after-free", "Stale window", "Protocol"):
        assert f"Checkers: {rule}" in sections


@pytest.mark.parametrize("name", ["mmu_notifier.rst.txt", "lkml-2017-08-31-mmu_notifier-semantic.txt",
                                  "mmu_notifier.h-history-v5.1.2.txt"])
def test_reference_texts_carry_their_source_and_license(name):
    text = (ROOT / "docs" / "reference" / name).read_text()
    head, sep, body = text.partition("=" * 78)
    assert sep, f"{name}: no header rule"
    assert re.search(r"^Source:\s+\S", head, re.M) and re.search(r"^License:\s+\S", head, re.M), head
    assert len(body) > 3000, f"{name}: the text itself is missing"
    if name == "mmu_notifier.rst.txt":
        assert "GPL-2.0" in head and "Documentation/mm/mmu_notifier.rst" in head
        assert "[Time N+5]" in body and "read addrA from old page" in body
    if name.startswith("mmu_notifier.h"):
        assert "git log v5.1.2 -- include/linux/mmu_notifier.h" in head
        assert "0f10851ea475" in body and "4645b9fe84bf" in body
    if name.startswith("lkml"):
        assert "update to new mmu_notifier semantic" in head and "lore.kernel.org" in head
