#!/usr/bin/env python3
"""Applies docs/tutorial.md to a project made by `kiva-new shop`: every fenced block whose
info string names `file=PATH` becomes that file, every `append=PATH` is appended to it,
exactly as printed. Then the project's `make test` proves the tutorial works.

    tests/newproject/tutorial.py docs/tutorial.md PROJECT_DIR
Prints one line per file written; exit status 1 when the page has no such block or names a
path outside the project."""

import os
import re
import sys

BLOCK = re.compile(r"^```[a-z]+ (file|append)=(\S+)\n(.*?)^```$", re.M | re.S)


def main():
    doc, project = sys.argv[1], os.path.abspath(sys.argv[2])
    blocks = BLOCK.findall(open(doc).read())
    if not blocks:
        print(f"tutorial: no file= or append= block in {doc}")
        return 1
    for how, path, text in blocks:
        target = os.path.abspath(os.path.join(project, path))
        if not target.startswith(project + os.sep):
            print(f"tutorial: {path} is outside the project")
            return 1
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w" if how == "file" else "a") as f:
            f.write(text)
        print(f"tutorial: {'wrote' if how == 'file' else 'appended to'} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
