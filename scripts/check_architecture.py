#!/usr/bin/env python3
"""Holds the core crate to its layout (README, "Architecture"):

1. no import circles between its files (`crate::`, `super::` and `self::` paths
   outside `#[cfg(test)]` modules);
2. no import up a floor: each top-level module has a floor (LAYERS) and may
   only import modules on its own floor or below;
3. no source file over MAX_LINES lines unless its first lines say why, in a
   comment starting with `// Long:` or `//! Long:`.

Exits 1 and names every breach. Run by scripts/test.sh; no dependencies.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CORE = os.path.join(ROOT, "shared", "src")
MAX_LINES = 700
LENGTH_CHECKED = ["shared/src", "cli/src", "functions"]

# Floors of the core crate, lowest first. A module may import its own floor
# and the floors below it; peers on one floor must not form circles (rule 1).
LAYERS = {
    "domain": 0,
    "telemetry": 0,
    "ports": 1,
    # The document formats, limits and worker reply the DocumentReader port
    # speaks in; extraction imports no port.
    "extraction": 1,
    "adapters": 2,
    "conformance": 2,
    "app": 3,
    "config": 4,  # the composition root: builds adapters into app services
    "http": 5,
    "s3_event": 5,
    "extract_event": 5,
    "lib": 6,
}

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
PATH = re.compile(rf"\b((?:crate|super|self)(?:::{IDENT})+)")
GROUP = re.compile(rf"\buse\s+((?:crate|super|self)(?:::{IDENT})*)::\{{(.*?)\}};", re.S)
TEST_MODULE = re.compile(r"\n#\[cfg\(test\)\]\s*\n(?:pub(?:\(crate\))? )?mod \w+\s*\{")


def modules(src):
    """Module path (tuple) -> file, for every .rs file under src."""
    found = {}
    for root, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(root, name)
                parts = os.path.relpath(path, src)[:-3].split(os.sep)
                if parts[-1] in ("mod", "lib", "main"):
                    parts = parts[:-1]
                found[tuple(parts)] = path
    return found


TEST_CHILD = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\(crate\))? )?mod (\w+);")


def test_only(files):
    """Modules declared under #[cfg(test)] in their parent, and everything below them."""
    declared = set()
    for module, path in files.items():
        for name in TEST_CHILD.findall(open(path, encoding="utf-8").read()):
            declared.add(module + (name,))
    return {m for m in files if any(m[: len(t)] == t for t in declared)}


def without_tests(text):
    """The file's text before its first #[cfg(test)] module: tests may import anything."""
    match = TEST_MODULE.search(text)
    return text[: match.start()] if match else text


def imports(module, path, files):
    """The files this module's non-test code names through crate paths."""
    text = without_tests(open(path, encoding="utf-8").read())
    paths = []
    for match in GROUP.finditer(text):
        head = match.group(1).split("::")
        for item in re.split(r"[,{}\s]+", match.group(2)):
            item = item.split(" as ")[0]
            if item and item not in ("self", "as"):
                paths.append(head + item.split("::"))
    paths += [m.group(1).split("::") for m in PATH.finditer(text)]

    # `super` is the parent module both in `a/b.rs` and in `a/b/mod.rs`.
    here = list(module)
    targets = set()
    for parts in paths:
        if parts[0] == "crate":
            absolute = parts[1:]
        else:
            absolute = list(here)
            while parts and parts[0] in ("super", "self"):
                if parts[0] == "super":
                    absolute = absolute[:-1]
                parts = parts[1:]
            absolute += parts
        for k in range(len(absolute), 0, -1):
            target = tuple(absolute[:k])
            if target in files:
                break
        else:
            continue
        is_ancestor = module[: len(target)] == target
        is_child = target[: len(module)] == module
        if target != module and not is_ancestor and not is_child:
            targets.add(target)
    return targets


def circles(edges):
    """Strongly connected components with more than one file (iterative Tarjan)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def floor(module):
    return LAYERS.get(module[0] if module else "lib")


def long_files():
    breaches = []
    for top in LENGTH_CHECKED:
        for root, _, names in os.walk(os.path.join(ROOT, top)):
            if "tests" in os.path.relpath(root, ROOT).split(os.sep):
                continue  # integration tests
            for name in names:
                if not name.endswith(".rs") or name == "tests.rs":
                    continue
                path = os.path.join(root, name)
                lines = open(path, encoding="utf-8").read().splitlines()
                head = "\n".join(lines[:5])
                if len(lines) > MAX_LINES and not re.search(r"^//!? Long:", head, re.M):
                    breaches.append(f"{os.path.relpath(path, ROOT)}: {len(lines)} lines")
    return breaches


def main():
    files = modules(CORE)
    for module in test_only(files):
        del files[module]
    edges = {module: imports(module, path, files) for module, path in files.items()}
    failures = []

    for component in circles(edges):
        names = ", ".join("/".join(m) or "lib" for m in component)
        failures.append(f"import circle: {names}")

    for module, targets in sorted(edges.items()):
        if floor(module) is None:
            failures.append(f"{'/'.join(module)}: top-level module without a floor in LAYERS")
            continue
        for target in sorted(targets):
            if floor(target) is not None and floor(target) > floor(module):
                failures.append(
                    f"upward import: {'/'.join(module)} (floor {floor(module)}) "
                    f"uses {'/'.join(target)} (floor {floor(target)})"
                )

    failures += [f"over {MAX_LINES} lines without a `// Long:` reason: {f}" for f in long_files()]

    for failure in failures:
        print(failure)
    print(f"{len(files)} files of shared/src checked: {len(failures)} breach(es)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
