"""The phone app's modules as a graph: every `import` (static, `export … from`, and dynamic
`import()` with a literal path) names a file that exists, no module reaches itself again
(a cycle), and the service worker keeps offline every module the app can load."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.pwa import ROOT

JS = ROOT / "js"
# `import x from '…'`, `import {a,\n b} from '…'`, `import '…'`, `export {a} from '…'`.
STATIC = re.compile(r"""^[ \t]*(?:import\s*(?:[\w*{][^'"`;]*?\bfrom\s*)?"""
                    r"""|export\s*(?:\*(?:\s*as\s+\w+)?|\{[^}]*\})\s*from\s*)['"]([^'"]+)['"]""", re.M)
DYNAMIC = re.compile(r"""\bimport\s*\(\s*([^)]*?)\s*\)""")
LITERAL = re.compile(r"""^(['"])([^'"`$]+)\1$""")
# Comments that stand on their own line or follow a statement's end (`; // …`); a `//` or
# `/*` inside a string ('http://…', 'image/*') is left alone.
COMMENT = re.compile(r"""^[ \t]*/\*.*?\*/|(^|[;{},()])[ \t]*//[^\n]*""", re.M | re.S)


def _code(path: Path) -> str:
    return COMMENT.sub(lambda m: m.group(1) or "", path.read_text(encoding="utf-8"))


def imports_of(path: Path, root: Path = ROOT) -> tuple[list[tuple[str, Path]], list[str]]:
    """(kind, target) for each import of the module, and the problems: a dynamic import of
    a computed path (which no reader can follow) or a bare name (no import map here)."""
    found, problems = [], []
    code = _code(path)
    specs = [("static", spec) for spec in STATIC.findall(code)]
    for argument in DYNAMIC.findall(code):
        literal = LITERAL.match(argument)
        if literal is None:
            problems.append(f"{path.relative_to(root)}: import({argument}) is not a literal path")
        else:
            specs.append(("dynamic", literal.group(2)))
    for kind, spec in specs:
        if spec.startswith(("./", "../")):
            found.append((kind, (path.parent / spec).resolve()))
        elif spec.startswith("/pwa/"):
            found.append((kind, (root / spec.removeprefix("/pwa/")).resolve()))
        else:
            problems.append(f"{path.relative_to(root)}: import of {spec!r} (neither relative nor /pwa/)")
    return found, problems


def graph(modules: list[Path], root: Path = ROOT) -> tuple[dict[Path, list[Path]], list[str]]:
    """Each module's imports, and every problem: missing files and unreadable imports."""
    edges: dict[Path, list[Path]] = {}
    problems: list[str] = []
    todo = [m.resolve() for m in modules]
    while todo:
        module = todo.pop()
        if module in edges:
            continue
        found, trouble = imports_of(module, root)
        problems += trouble
        edges[module] = []
        for _kind, target in found:
            if not target.is_file():
                problems.append(f"{module.relative_to(root)} imports {target.relative_to(root) if root in target.parents else target}: no such file")
                continue
            edges[module].append(target)
            todo.append(target)
    return edges, problems


def cycles(edges: dict[Path, list[Path]]) -> list[list[Path]]:
    """Every cycle met by a depth-first walk, each as the path that closes it (a → b → a)."""
    found: list[list[Path]] = []
    state: dict[Path, int] = {}  # 1 on the current path, 2 done
    path: list[Path] = []

    def visit(node: Path) -> None:
        state[node] = 1
        path.append(node)
        for target in edges.get(node, []):
            if state.get(target) == 1:
                found.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def reachable(edges: dict[Path, list[Path]], start: Path) -> set[Path]:
    seen, todo = set(), [start.resolve()]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(edges.get(node, []))
    return seen


def every_module() -> list[Path]:
    return sorted(JS.rglob("*.js"))


def _show(cycle: list[Path]) -> str:
    return " -> ".join(p.relative_to(ROOT).as_posix() for p in cycle)


def test_every_import_names_a_file_and_every_dynamic_import_a_literal_path():
    _, problems = graph(every_module())
    assert problems == []


def test_no_import_cycle_among_the_modules():
    edges, _ = graph(every_module())
    found = cycles(edges)
    assert not found, "import cycles:\n" + "\n".join(_show(c) for c in found)


def test_every_module_is_reached_from_the_app():
    """A module nothing loads is dead code (or a screen missing from SCREENS); the outbox's
    store is also loaded by the service worker."""
    edges, _ = graph([JS / "app.js"])
    loose = sorted(p.relative_to(ROOT).as_posix() for p in set(every_module()) - reachable(edges, JS / "app.js"))
    assert loose == []


def test_the_service_worker_keeps_every_module_the_app_can_load(client):
    script = client.get("/sw.js").get_data(as_text=True)
    kept = set(json.loads(re.search(r"const SHELL = (\[.*?\]);", script).group(1)))
    edges, _ = graph([JS / "app.js"])
    needed = {"/pwa/" + p.relative_to(ROOT).as_posix() for p in reachable(edges, JS / "app.js")}
    needed |= {"/pwa/" + s.removeprefix("/pwa/") for s in re.findall(r"importScripts\('([^']+)'\)", script)}
    assert "/pwa/js/screens/verification.js" in needed and "/pwa/vendor/qrcode-generator-2.0.4.mjs" in needed
    assert sorted(needed - kept) == []


# --- The walk itself, on modules written for the purpose -------------------------------


@pytest.fixture
def tree(tmp_path):
    def write(files: dict[str, str]) -> Path:
        for name, text in files.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(text)
        return tmp_path
    return write


def test_the_walk_names_a_missing_file_and_a_computed_import(tree):
    root = tree({
        "a.js": "import { b } from './b.js';\nimport {\n  c,\n} from './lib/c.js';\nexport { d } from './d.js';\n",
        "b.js": "// import './commented.js';\n/* import('./old.js') */\nconst s = 'http://x//y'; // import('./no.js')\n"
                "export const b = () => import(`./screens/${s}.js`);\n",
        "lib/c.js": "import '../gone.js';\nexport const c = 1;\n",
        "d.js": "export const d = () => import('./lib/c.js');\n",
    })
    edges, problems = graph([root / "a.js"], root)
    assert sorted(p.relative_to(root).as_posix() for p in edges) == ["a.js", "b.js", "d.js", "lib/c.js"]
    assert sorted(problems) == ["b.js: import(`./screens/${s}.js`) is not a literal path",
                                "lib/c.js imports gone.js: no such file"]


def test_the_walk_finds_a_cycle_through_a_dynamic_import_and_prints_it(tree):
    root = tree({
        "app.js": "import './ui.js';\nconst screen = () => import('./screens/me.js');\n",
        "ui.js": "export const h = 1;\n",
        "screens/me.js": "import { h } from '../ui.js';\nimport { signOut } from '../app.js';\n",
    })
    edges, problems = graph([root / "app.js"], root)
    assert problems == []
    found = cycles(edges)
    assert [[p.relative_to(root).as_posix() for p in c] for c in found] == [["app.js", "screens/me.js", "app.js"]]


def test_a_tree_without_cycles_has_none(tree):
    root = tree({"a.js": "import './b.js';\nimport './c.js';\n", "b.js": "import './c.js';\n", "c.js": ""})
    edges, _ = graph([root / "a.js"], root)
    assert cycles(edges) == [] and len(edges) == 3
