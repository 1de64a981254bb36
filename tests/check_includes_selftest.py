#!/usr/bin/env python3
"""Shows that check_includes.py and check_include_circles.py can fail.

    check_includes_selftest.py [ROOT]

For every rule, copies ROOT's sources into a scratch directory, adds one
forbidden include as the first line of a file and expects the check to exit 1
naming that file, line 1 and the rule. Then runs both checks on a small tree
that keeps to the rules (they must pass) and on one with a circle in sim/ (the
circle check must fail). The checks on the real tree are separate tests: this
one holds whether or not the tree is clean today.
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "check_includes.py")
CIRCLES = os.path.join(HERE, "check_include_circles.py")

# (file to edit, line to add, words the report must carry)
CASES = [
    ("sim/module.c", '#include "../proto/url.h"', "relative include"),
    ("sim/module.c", '#include "module.h"', "not written from the project root"),
    ("sim/module.c", '#include "sim/no_such.h"', "names no file"),
    ("sim/module.c", "#include <sim/module.h>", "project header in <...>"),
    ("fw_image/flash.c", '#include "proto/url.h"', "fw_image/ includes outside fw_image/"),
    ("fw_image/flash.c", '#include "fw_image/gen/delta.h"', "fw_image/ includes outside"),
    ("fw_image/flash.c", "#include <uv.h>", "fw_image/ includes <uv.h>"),
    ("fw_image/flash.c", "#include <sys/socket.h>", "fw_image/ includes <sys/socket.h>"),
    ("fw_image/flash.c", "#include <lzma.h>", "fw_image/ includes <lzma.h>"),
    ("fw_image/flash.c", "#include <divsufsort.h>", "fw_image/ includes <divsufsort.h>"),
    ("fw_image/gen/delta.c", '#include "sim/module.h"', "fw_image/gen/ includes outside"),
    ("proto/url.c", '#include "sim/base/clock.h"', "proto/ includes outside proto/"),
    ("proto/url.c", '#include "fw_image/flash.h"', "proto/ includes outside proto/"),
    ("sim/module.c", '#include "tests/integration/host.h"', "sim/ includes tools/ or tests/"),
    ("sim/module.c", '#include "tools/bcsim/cli.h"', "includes tools/"),
    ("tests/runner.c", '#include "tools/bcsim/cli.h"', "includes tools/"),
    ("tools/upload/uploader.c", '#include "fw_image/crc16.h"', "tools/upload/ includes outside"),
    ("tools/upload/uploader.c", '#include "tools/bcsim/cli.h"', "tools/upload/ includes outside"),
    ("tools/upload/uploader.c", "#include <uv.h>", "tools/upload/ includes <uv.h>"),
    ("sim/module.c", '#include "tools/upload/uploader.h"', "includes tools/upload/"),
    ("sim/module.c", "#include <llhttp.h>", "<llhttp.h> outside proto/"),
    ("tests/runner.c", "#include <coap3/coap.h>", "<coap3/coap.h> outside proto/"),
]


def run(script, root):
    p = subprocess.run([sys.executable, script, root], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def copy_sources(src_root, dst_root):
    for top in ("fw_image", "proto", "sim", "tools", "tests"):
        for dirpath, _, filenames in os.walk(os.path.join(src_root, top)):
            for f in filenames:
                if f.endswith((".c", ".h")):
                    rel = os.path.relpath(os.path.join(dirpath, f), src_root)
                    os.makedirs(os.path.join(dst_root, os.path.dirname(rel)), exist_ok=True)
                    shutil.copyfile(os.path.join(src_root, rel), os.path.join(dst_root, rel))


def write(root, rel, text):
    os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
    with open(os.path.join(root, rel), "w") as f:
        f.write(text)


def clean_tree(root):
    """A tree that keeps every rule, one file per layer."""
    write(root, "fw_image/flash.h", "#include <stdint.h>\n")
    write(root, "fw_image/gen/delta.h", '#include "fw_image/flash.h"\n#include <lzma.h>\n')
    write(root, "proto/url.h", "#include <llhttp.h>\n#include <uv.h>\n")
    write(root, "sim/a.h", '#include "proto/url.h"\n#include "fw_image/flash.h"\n')
    write(root, "sim/a.c", '#include "sim/a.h"\n#include "sim/b.h"\n')
    write(root, "sim/b.h", "#include <uv.h>\n")
    write(root, "sim/b.c", '#include "sim/b.h"\n')
    write(root, "tools/bcsim/cli.h", '#include "sim/a.h"\n')
    write(root, "tools/bcsim/main.c", '#include "tools/bcsim/cli.h"\n')
    write(root, "tools/upload/up.h", "#include <stdint.h>\n")
    write(root, "tools/upload/up.c", '#include "tools/upload/up.h"\n#include <termios.h>\n')
    write(root, "tools/bcsim/up.c", '#include "tools/upload/up.h"\n')
    write(root, "tests/runner.c", '#include "sim/a.h"\n#include "fw_image/gen/delta.h"\n'
          '#include "tools/upload/up.h"\n')


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.dirname(HERE)
    failures = []
    with tempfile.TemporaryDirectory(prefix="bcsim-incl-") as scratch:
        for rel, line, words in CASES:
            tree = os.path.join(scratch, "case")
            shutil.rmtree(tree, ignore_errors=True)
            copy_sources(root, tree)
            path = os.path.join(tree, rel)
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(line + "\n" + text)
            rc, out = run(CHECK, tree)
            hit = [l for l in out.splitlines() if l.startswith(rel + ":1:") and words in l]
            if rc != 1 or not hit:
                failures.append("adding %s to %s: exit %d, no \"%s:1: ...%s\" in:\n%s"
                                % (line, rel, rc, rel, words, out))

        tree = os.path.join(scratch, "clean")
        clean_tree(tree)
        for script in (CHECK, CIRCLES):
            rc, out = run(script, tree)
            if rc != 0:
                failures.append("%s fails a tree that keeps the rules:\n%s" % (script, out))

        write(tree, "sim/b.c", '#include "sim/b.h"\n#include "sim/a.h"\n')
        rc, out = run(CIRCLES, tree)
        if rc != 1 or "circle: sim/a <-> sim/b" not in out or "sim/b.c:2:" not in out:
            failures.append("sim/a.c -> b.h, sim/b.c -> a.h: exit %d, circle not named:\n%s"
                            % (rc, out))

    for f in failures:
        print("FAIL: " + f)
    print("check_includes_selftest: %d of %d cases failed" % (len(failures), len(CASES) + 3))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
