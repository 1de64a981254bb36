#!/usr/bin/env python3
"""Fails when files of sim/ include each other in a circle.

    check_include_circles.py [ROOT]

Include guards make a circle of headers compile, so the compiler never
complains; but a circle means neither part can be used (or tested) without
the other. The graph is taken at the level of a unit, a header and its source
together (sim/fota.h + sim/fota.c are the unit "sim/fota"): fota.c including
module.h while module.c includes fota.h is a circle even though no header
includes another. Prints every circle with the include lines that close it and
exits 1; exits 0 when the graph has none.
"""

import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"(sim/[^"]+)"')


def unit_of(path):
    return os.path.splitext(path)[0]


def include_graph(root):
    """{unit: {included unit: "file:line"}} over sim/'s .c and .h files."""
    graph = {}
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, "sim")):
        dirnames.sort()
        for f in sorted(filenames):
            if not f.endswith((".c", ".h")):
                continue
            src = os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/")
            edges = graph.setdefault(unit_of(src), {})
            with open(os.path.join(root, src), encoding="utf-8", errors="replace") as fh:
                for lineno, line in enumerate(fh, 1):
                    m = INCLUDE.match(line)
                    if m and unit_of(m.group(1)) != unit_of(src):
                        edges.setdefault(unit_of(m.group(1)), "%s:%d" % (src, lineno))
    return graph


def strongly_connected(graph):
    """Tarjan's algorithm: the components of more than one unit, each sorted."""
    index, low, stack, on_stack, comps = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isdir(os.path.join(root, "sim")):
        print("check_include_circles: %s has no sim/" % root, file=sys.stderr)
        return 2
    graph = include_graph(root)
    circles = strongly_connected(graph)
    for comp in circles:
        print("circle: %s" % " <-> ".join(comp))
        members = set(comp)
        for unit in comp:
            for dst, where in sorted(graph[unit].items()):
                if dst in members:
                    print("  %s: %s includes %s" % (where, unit, dst))
    if circles:
        print("check_include_circles: %d circle(s) of includes in sim/" % len(circles))
        return 1
    print("check_include_circles: no circle of includes in sim/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
