#!/usr/bin/env python3
"""The framework's floors (framework/kiva/*/README.md): every #include "kiva/FLOOR/..." of a
folder names a floor its README's "May include:" line allows (or the folder itself), and no
framework file includes an application's files ("generated/...", "api/...") or anything
outside kiva/ with quotes. Then the check is run once on a copy with a wrong include, which
it must refuse: a check that cannot fail proves nothing.

    tests/floors/check.py [FRAMEWORK_DIR]     (default: framework/kiva)
Prints "floors: N passed, M failed"; exit status 1 on a failure."""

import os
import re
import shutil
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def allowed_floors(root):
    """{folder: set of floors it may include}, from each folder's README.md."""
    floors = {}
    folders = [n for n in sorted(os.listdir(root)) if os.path.isdir(os.path.join(root, n))]
    for name in folders:
        readme = os.path.join(root, name, "README.md")
        if not os.path.exists(readme):
            raise SystemExit(f"floors: {name}/ has no README.md saying what it may include")
        text = open(readme).read()
        m = re.search(r"^May include:(.*)$", text, re.M)
        if not m:
            raise SystemExit(f"floors: {name}/README.md has no 'May include:' line")
        floors[name] = {w for w in re.findall(r"[a-z_]+", m.group(1)) if w in folders} | {name}
    return floors


def violations(root):
    """[(file, line, include, why)] of every include against the floors."""
    floors = allowed_floors(root)
    found = []
    for folder in floors:
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for f in sorted(files):
                if not f.endswith((".hpp", ".cpp", ".h")):
                    continue
                path = os.path.join(dirpath, f)
                text = open(path).read()
                for m in INCLUDE.finditer(text):
                    inc = m.group(1)
                    line = text.count("\n", 0, m.start()) + 1
                    where = os.path.relpath(path, root)
                    parts = inc.split("/")
                    if parts[0] != "kiva" or len(parts) < 3:
                        found.append((where, line, inc, "not a framework header: the framework "
                                      "never includes an application's files"))
                    elif parts[1] not in floors:
                        found.append((where, line, inc, f"no floor {parts[1]}/"))
                    elif parts[1] not in floors[folder]:
                        found.append((where, line, inc, f"{folder}/ may include "
                                      f"{', '.join(sorted(floors[folder] - {folder})) or 'nothing else'}"))
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "framework", "kiva")
    passed = failed = 0
    bad = violations(root)
    for where, line, inc, why in bad:
        print(f"FAIL {where}:{line}: #include \"{inc}\": {why}")
    if bad:
        failed += 1
    else:
        passed += 1
        print(f"ok   every include of {root} follows the floors")
    # The check must fail on a wrong include: core reaching up into the application floor.
    with tempfile.TemporaryDirectory(prefix="kiva-floors-") as tmp:
        copy = os.path.join(tmp, "kiva")
        shutil.copytree(root, copy)
        with open(os.path.join(copy, "core", "upward.hpp"), "w") as f:
            f.write('#pragma once\n#include "kiva/app/context.hpp"\n#include "generated/queries.hpp"\n')
        caught = [v for v in violations(copy) if v[0] == os.path.join("core", "upward.hpp")]
        if len(caught) == 2:
            passed += 1
            print("ok   a wrong include is refused: " + "; ".join(f"{v[2]}: {v[3]}" for v in caught))
        else:
            failed += 1
            print(f"FAIL the check missed a wrong include (caught {caught})")
    print(f"floors: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
