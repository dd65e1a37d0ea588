"""The layer rules of Package.swift, checked on the package as SwiftPM reads it (`swift package dump-package`).

A module marked pure (the `PYLON_PURE_MODULE` condition) does no I/O: it depends only on pure modules and on a few
pure libraries (swift-collections, swift-crypto), directly and transitively, and imports no Foundation, no C library
module, no NIO and no C shim. The tests of a pure module build without any I/O module (no KubeServer, Hummingbird or
SQLite). The checker is tested first on packages made up here, so that a broken checker cannot pass the real one.
"""

import json
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PURE_MARK = "PYLON_PURE_MODULE"
# Products of other packages a pure module may use: data structures and hashes, no I/O.
PURE_PRODUCTS = {"Collections", "OrderedCollections", "DequeModule", "Crypto"}
# What the test of a pure module may add: the dependency-free test kit and the YAML reader it is compared with.
PURE_TEST_EXTRAS = {"PylonTestKit", "Yams"}
FORBIDDEN_IMPORTS = re.compile(
    r"^\s*(?:@[\w()]+\s+)*import\s+(?:(?:class|struct|enum|func|var|protocol)\s+)?"
    r"(Foundation\w*|Glibc|Musl|Darwin|Dispatch|NIO\w*|CLinuxNet|CSQLite|Hummingbird\w*|Logging|Metrics|"
    r"ServiceLifecycle)\b",
    re.MULTILINE,
)


def dependencies(target):
    """Names of the targets and products `target` depends on, as (kind, name) pairs."""
    out = []
    for dependency in target["dependencies"]:
        for kind in ("byName", "target", "product"):
            if kind in dependency:
                out.append(("product" if kind == "product" else "target", dependency[kind][0]))
    return out


def is_pure(target):
    return any(setting.get("kind", {}).get("define", {}).get("_0") == PURE_MARK for setting in target["settings"])


def violations(package, read_source=None):
    """Every broken layer rule of `package` (a dump-package document), as sentences; empty when it keeps them."""
    targets = {t["name"]: t for t in package["targets"]}
    pure = {name for name, t in targets.items() if is_pure(t)}
    found = []

    def closure(name, allowed_products):
        """Depth-first over `name`'s dependencies: the first path to something that is neither pure nor allowed."""
        stack, seen = [(name, [name])], set()
        while stack:
            current, path = stack.pop()
            for kind, dependency in dependencies(targets[current]):
                if kind == "product" or dependency not in targets:
                    if dependency not in allowed_products:
                        return path + [dependency]
                    continue
                if dependency not in pure and dependency not in allowed_products:
                    return path + [dependency]
                if dependency not in seen:
                    seen.add(dependency)
                    stack.append((dependency, path + [dependency]))
        return None

    for name in sorted(pure):
        path = closure(name, PURE_PRODUCTS)
        if path:
            found.append(f"pure module {name} depends on {path[-1]}, which is not pure ({' → '.join(path)})")
        if read_source:
            for file, text in read_source(targets[name]["path"]):
                for match in FORBIDDEN_IMPORTS.finditer(text):
                    found.append(f"pure module {name} imports {match.group(1)} ({file})")
    for name, target in sorted(targets.items()):
        if target["type"] != "test" or name.removesuffix("Tests") not in pure:
            continue
        extras = PURE_TEST_EXTRAS | PURE_PRODUCTS
        for extra in PURE_TEST_EXTRAS & set(targets):
            if dependencies(targets[extra]):
                found.append(f"{extra}, the kit of pure tests, has dependencies")
        path = closure(name, extras)
        if path:
            found.append(f"{name}, the tests of a pure module, depend on {path[-1]} ({' → '.join(path)})")
    return found


def swift_sources(path):
    for file in sorted((ROOT / path).rglob("*.swift")):
        yield str(file.relative_to(ROOT)), file.read_text()


@pytest.fixture(scope="module")
def package():
    dump = subprocess.run(
        ["swift", "package", "dump-package"], cwd=ROOT, check=True, capture_output=True, text=True, timeout=300
    )
    return json.loads(dump.stdout)


def made_up(*targets):
    """A dump-package document with `targets`, each (name, type, pure, dependencies)."""

    def target(name, kind, pure, deps):
        return {
            "name": name,
            "type": kind,
            "path": f"Sources/{name}",
            "settings": [{"tool": "swift", "kind": {"define": {"_0": PURE_MARK}}}] if pure else [],
            "dependencies": [{"product": [d[1:], "pkg", None, None]} if d.startswith("@") else {"byName": [d, None]}
                             for d in deps],
        }

    return {"targets": [target(*t) for t in targets]}


def test_the_checker_finds_a_pure_module_over_an_io_one_two_steps_away():
    package = made_up(
        ("Core", "regular", True, []),
        ("Net", "regular", False, ["Core", "@NIOCore"]),
        ("Plan", "regular", True, ["Core"]),
        ("Explain", "regular", True, ["Plan", "Middle"]),
        ("Middle", "regular", True, ["Net"]),
    )
    found = violations(package)
    assert "pure module Middle depends on Net, which is not pure (Middle → Net)" in found
    assert "pure module Explain depends on Net, which is not pure (Explain → Middle → Net)" in found
    assert not any(line.startswith("pure module Plan") or line.startswith("pure module Core") for line in found)


def test_the_checker_finds_forbidden_products_and_imports():
    package = made_up(("Codec", "regular", True, ["@Crypto", "@NIOCore"]), ("Clean", "regular", True, ["@Crypto"]))
    sources = {
        "Sources/Codec": [("Codec/A.swift", "import NetCore\n@preconcurrency import Foundation\n")],
        "Sources/Clean": [("Clean/B.swift", "import Crypto\n// import Foundation would be wrong\nlet importGlibc = 1\n")],
    }
    found = violations(package, read_source=lambda path: sources[path])
    assert "pure module Codec depends on NIOCore, which is not pure (Codec → NIOCore)" in found
    assert "pure module Codec imports Foundation (Codec/A.swift)" in found
    assert not any("Clean" in line for line in found), found


def test_the_checker_finds_a_pure_modules_tests_linking_the_server():
    package = made_up(
        ("Codec", "regular", True, []),
        ("Server", "regular", False, ["@Hummingbird"]),
        ("PylonTestKit", "regular", False, []),
        ("Harness", "regular", False, ["PylonTestKit", "Server"]),
        ("CodecTests", "test", False, ["Codec", "Harness"]),
        ("ServerTests", "test", False, ["Server", "Harness"]),
    )
    found = violations(package)
    assert found == ["CodecTests, the tests of a pure module, depend on Harness (CodecTests → Harness)"]


def test_pylon_keeps_its_layers(package):
    assert violations(package, read_source=swift_sources) == []


def test_the_pure_layer_is_the_one_the_readme_describes(package):
    pure = sorted(t["name"] for t in package["targets"] if is_pure(t))
    assert pure == sorted([
        "NetCore", "Netlink", "KubeAPI", "LoadBalancerConfig", "Allocator", "Election", "Membership", "Layer2", "BGP",
        "BFD", "Announcement", "Explain", "Lab", "CNI", "NFTables", "Overlay", "Proxy",
    ])
