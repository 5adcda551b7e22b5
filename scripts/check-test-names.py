#!/usr/bin/env python3
# Catch2 v2's catch_discover_tests splits a test name at ';' (a CMake list separator): each
# piece becomes a ctest test whose filter matches no test case, which then "passes" without
# running anything. This check fails on any TEST_CASE name with a ';' in it.
#   check-test-names.py DIR...   (exit 1 and the offending names when there are any)
import pathlib
import re
import sys

NAME = re.compile(r'TEST_CASE\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)')
bad = []
for root in sys.argv[1:]:
    for path in sorted(pathlib.Path(root).rglob("*.cpp")):
        for m in NAME.finditer(path.read_text(encoding="utf-8", errors="replace")):
            if ";" in m.group(1):
                line = path.read_text(encoding="utf-8", errors="replace").count("\n", 0, m.start()) + 1
                bad.append("%s:%d: %s" % (path, line, " ".join(m.group(1).split())))
for b in bad:
    print(b)
if bad:
    print("test names must not contain ';' (ctest splits them and runs nothing)")
    sys.exit(1)
print("no test name contains ';'")
