"""The package's shape, as ARCHITECTURE.md states it: layers, no import cycles, one place per thing."""

import ast
import re
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "studylib"

# Lower layers never import higher ones (ARCHITECTURE.md draws the same table).
LAYERS = {
    0: [
        "fileio",
        "config",
        "concepts",
        "registry",
        "metrics",
        "inference",
        "claims",
        "robustness",
        "data.class_masks",
        "profiling",
        "debias",
        "fingerprint",
        "locking",
        "seeds",
        "schedules",
        "scheduler",
        "progress",
        "outputs",
        "cellwatch",
        "processes",
    ],
    1: [
        "world",
        "retina",
        "world_store",
        "captions",
        "models",
        "evaluate",
        "similarity",
        "data.adapters",
        "data.sources",
        "plots",
        "figure_layout",
        "interactive",
        "export",
        "figures",
        "cards",
        "train",
    ],
    2: ["objectives"],
    3: ["spec", "data.backend", "data.world_data", "data.real_data"],
    4: ["pipeline"],
    5: ["session", "widgets", "execute", "runner"],
    6: ["chapters"],
    7: ["cli"],  # the application: it runs chapters and tabulates their summaries
}


def modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        out[".".join(["studylib", *parts])] = path
    return out


def imports(path: Path, known) -> set[str]:
    """Every studylib module a file imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("studylib"):
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n for n in names if n in known}
    return found


def layer(module: str) -> int:
    name = module.removeprefix("studylib.")
    best = None
    for level, prefixes in LAYERS.items():
        for p in prefixes:
            if name == p or name.startswith(p + "."):
                if best is None or len(p) > best[1]:
                    best = (level, len(p))
    assert best is not None, f"{module} is in no layer of ARCHITECTURE.md"
    return best[0]


def test_every_import_goes_down_or_sideways_and_there_is_no_cycle():
    mods = modules()
    graph = {m: imports(p, mods) - {m} for m, p in mods.items()}
    for m, deps in graph.items():
        if m in ("studylib", "studylib.__main__") or m.count(".") == 1 and mods[m].name == "__init__.py":
            continue
        for d in deps:
            if mods[d].name == "__init__.py" and d != "studylib.objectives":
                continue  # a package's docstring-only __init__ (or studylib.__version__)
            assert layer(d) <= layer(m), f"{m} (layer {layer(m)}) imports {d} (layer {layer(d)})"
    # cycles: strongly connected components of size > 1 (package __init__ edges to own children ignored)
    edges = {
        m: {d for d in deps if not m.startswith(d + ".") and not d.startswith(m + ".")}
        for m, deps in graph.items()
    }
    index, low, stack, on, sccs = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            sccs.append(comp)

    for v in edges:
        if v not in index:
            visit(v)
    cycles = [sorted(c) for c in sccs if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_no_objective_branches_outside_the_objectives():
    pattern = re.compile(r"objective *(==|!=|in)\b")
    hits = [
        f"{p}:{i}"
        for p in PKG.rglob("*.py")
        if "objectives" not in p.parts
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, hits


def test_generic_modules_never_name_a_chapter_and_nothing_imports_private_names():
    for name, path in modules().items():
        text = path.read_text()
        if not name.startswith(("studylib.chapters", "studylib.cli")):
            assert "studylib.chapters" not in text and "CHAPTER_PRESETS" not in text, name
        private = [
            a.name
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("studylib")
            for a in node.names
            if a.name.startswith("_") and a.name != "__version__"
        ]
        assert not private, f"{name} imports private names {private}"
        assert "# noqa: F401" not in text or name == "studylib.objectives", f"{name} re-exports names"


def test_no_chapter_module_imports_another():
    """Chapters share code through evidence, worlds, pretraining and the claims toolkit, never each other."""
    chapter_modules = {n for n in modules() if re.fullmatch(r"studylib\.chapters\.ch\d\d\w*", n)}
    assert len(chapter_modules) >= 9
    for name in chapter_modules:
        found = imports(modules()[name], modules()) & chapter_modules
        assert not found, f"{name} imports the chapter module(s) {sorted(found)}"


def test_every_chapter_module_keeps_the_written_contract():
    import inspect

    from studylib import chapters

    notebooks = sorted(p.stem for p in (PKG.parent / "notebooks").glob("[0-9]*.py"))
    found = chapters.modules()
    assert [m.NAME for m in found] == notebooks  # one module per notebook, reading order
    names = {m.NAME for m in found}
    for m in found:
        missing = [attr for attr in chapters.CONTRACT if not hasattr(m, attr)]
        assert not missing, f"{m.__name__} lacks {missing}"
        assert isinstance(m.SIZES, dict) and isinstance(m.AFTER, tuple) and set(m.AFTER) <= names - {m.NAME}
        assert list(inspect.signature(m.specs).parameters)[:2] == ["session", "seed"], m.__name__
        assert list(inspect.signature(m.claims).parameters) == ["session", "runs_by_seed"], m.__name__
        assert isinstance(m.full_adds("quick"), str) and not hasattr(m, "summary"), m.__name__
    assert chapters.after() == {m.NAME: m.AFTER for m in found if m.AFTER}


# Functions allowed past MAX_FUNCTION_LINES, each with its reason (at most three).
LONG_FUNCTIONS: dict[str, str] = {
    "studylib.cli.main.build_parser": "a declaration of every subcommand's options, read top to bottom",
    "studylib.cli.freq._fill": "a declaration of freq count's and compare's options, read top to bottom",
}
MAX_FUNCTION_LINES = 80


def test_no_function_is_longer_than_80_lines():
    long = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                where = f"{name}.{node.name}"
                if lines > MAX_FUNCTION_LINES and where not in LONG_FUNCTIONS:
                    long.append(f"{where} ({lines} lines)")
    assert len(LONG_FUNCTIONS) <= 3 and not long, long


def test_architecture_md_names_every_module():
    """Every module is named: a top-level one as itself, one in a folder as ``folder/name`` or within
    ``folder/{a,b,...}``."""
    text = (PKG.parent / "ARCHITECTURE.md").read_text()
    missing = []
    for name in modules():
        parts = name.removeprefix("studylib").strip(".").split(".")
        if parts == [""] or parts[-1] == "__main__" or modules()[name].name == "__init__.py":
            continue  # a package is named through its modules
        leaf, folder = parts[-1], "/".join(parts[:-1])
        if folder:
            named = f"{folder}/{leaf}" in text or re.search(
                rf"{re.escape(folder)}/\{{[^}}]*\b{re.escape(leaf)}\b[^}}]*\}}", text
            )
        else:
            named = re.search(rf"(?<![\w/.]){re.escape(leaf)}(?![\w/])", text)
        if not named:
            missing.append(name)
    assert not missing, f"ARCHITECTURE.md does not name {missing}"


def test_no_studylib_module_shadows_the_standard_library():
    """``studylib.fileio`` was ``studylib.io``; no studylib module, nor the name a studylib module is imported
    as, takes a standard library module's name."""
    import sys

    known = modules()
    for name, path in known.items():
        assert name.split(".")[-1] not in sys.stdlib_module_names, f"{name} shadows the standard library"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                pairs = [(a.name, a.asname or a.name) for a in node.names if a.name in known]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("studylib"):
                pairs = [
                    (f"{node.module}.{a.name}", a.asname or a.name)
                    for a in node.names
                    if f"{node.module}.{a.name}" in known
                ]
            else:
                continue
            for module, shown in pairs:
                assert shown not in sys.stdlib_module_names, f"{name} imports {module} as {shown}"


def test_a_module_over_300_lines_says_why_at_its_top():
    for name, path in modules().items():
        text = path.read_text()
        if text.count("\n") > 300:
            doc = ast.get_docstring(ast.parse(text)) or ""
            assert "Long because" in doc, f"{name} has {text.count(chr(10))} lines and no reason at its top"
