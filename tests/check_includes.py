#!/usr/bin/env python3
"""Fails when a source file includes across the layering rule.

    check_includes.py [ROOT]

Scans every .c/.h under fw_image/, proto/, sim/, tools/ and tests/ of ROOT
(default: the checkout this script lives in) and prints one line per broken
rule, "file:line: rule: the include", then exits 1. Exits 0 when every include
keeps to the rule:

    fw_image (libc) <- fw_image/gen (liblzma, libdivsufsort)
    proto (libuv, llhttp, libcoap)
    sim (proto, fw_image) <- tools, tests; nothing includes tools/
    tools/upload (libc, POSIX; nothing else of bcsim) <- tools/bcsim, tests
    tools/lwm2m_server (proto, libcoap) <- tools/bcsim
    tools/scenario (sim, proto, fw_image) <- tools/bcsim

The layers are kept apart by meson's link lines too, but a header included
across a layer compiles fine until someone moves a file; this check keeps the
source true to the rule the link lines describe.
"""

import os
import re
import sys

ROOTS = ("fw_image", "proto", "sim", "tools", "tests")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')

# Headers of libraries fw_image (the flash model, libc only) must not see.
FW_IMAGE_FORBIDDEN_SYSTEM = ("uv.h", "llhttp.h", "lzma.h", "divsufsort.h", "sys/socket.h")
# Protocol libraries: only proto/ speaks them.
PROTO_ONLY_SYSTEM = ("llhttp.h",)
PROTO_ONLY_SYSTEM_DIRS = ("coap3/",)
# The reference uploader is libc and POSIX only: none of the libraries bcsim uses.
UPLOAD_FORBIDDEN_SYSTEM = ("uv.h", "llhttp.h", "lzma.h", "divsufsort.h", "check.h")


def layer_of(path):
    """The layer a project path belongs to: fw_image/gen, fw_image, proto, ..."""
    if path.startswith("fw_image/gen/"):
        return "fw_image/gen"
    if path.startswith("tools/bcsim/"):
        return "tools/bcsim"
    if path.startswith("tools/upload/"):
        return "tools/upload"
    if path.startswith("tools/lwm2m_server/"):
        return "tools/lwm2m_server"
    if path.startswith("tools/scenario/"):
        return "tools/scenario"
    return path.split("/", 1)[0]


def is_proto_only(name):
    return name in PROTO_ONLY_SYSTEM or name.startswith(PROTO_ONLY_SYSTEM_DIRS)


def check_quoted(src, name, exists):
    """Rules for a "..." include; yields the broken rules' descriptions."""
    if name.startswith(("./", "../")) or "/../" in name or "/./" in name:
        yield "relative include (write it from the project root)"
        return
    if name.split("/", 1)[0] not in ROOTS:
        yield "not written from the project root (\"fw_image/...\", \"proto/...\", " \
              "\"sim/...\", \"tools/...\" or \"tests/...\"; <...> for other libraries)"
        return
    if not exists(name):
        yield "names no file of the project"
    src_layer, dst_layer = layer_of(src), layer_of(name)
    if dst_layer in ("tools", "tools/bcsim") and src_layer != "tools/bcsim":
        yield "includes tools/ (nothing but tools/bcsim itself may)"
    if dst_layer == "tools/upload" and src_layer not in ("tools/upload", "tools/bcsim", "tests"):
        yield "includes tools/upload/ (only tools/bcsim and tests may)"
    if src_layer == "tools/upload" and dst_layer != "tools/upload":
        yield "tools/upload/ includes outside tools/upload/ (the reference uploader " \
              "shares no code with the module side)"
    if dst_layer == "tools/lwm2m_server" and src_layer not in ("tools/bcsim",
                                                               "tools/lwm2m_server"):
        yield "includes tools/lwm2m_server/ (only tools/bcsim and itself may)"
    if src_layer == "tools/lwm2m_server" and dst_layer not in ("proto", "tools/lwm2m_server"):
        yield "tools/lwm2m_server/ includes outside itself and proto/"
    if dst_layer == "tools/scenario" and src_layer not in ("tools/bcsim", "tools/scenario"):
        yield "includes tools/scenario/ (only tools/bcsim and itself may)"
    if src_layer == "tools/scenario" and dst_layer not in ("sim", "proto", "fw_image",
                                                           "tools/scenario"):
        yield "tools/scenario/ includes outside itself, sim/, proto/ and fw_image/"
    if src_layer == "fw_image" and dst_layer != "fw_image":
        yield "fw_image/ includes outside fw_image/ (the flash model is libc only; " \
              "the generator fw_image/gen/ sits above it)"
    if src_layer == "fw_image/gen" and dst_layer not in ("fw_image", "fw_image/gen"):
        yield "fw_image/gen/ includes outside fw_image/"
    if src_layer == "proto" and dst_layer != "proto":
        yield "proto/ includes outside proto/"
    if src_layer == "sim" and dst_layer in ("tools", "tools/bcsim", "tests"):
        yield "sim/ includes tools/ or tests/"


def check_angled(src, name, exists):
    """Rules for a <...> include; yields the broken rules' descriptions."""
    src_layer = layer_of(src)
    if name.split("/", 1)[0] in ROOTS and exists(name):
        yield "project header in <...> (write \"%s\")" % name
    if src_layer == "fw_image" and (name in FW_IMAGE_FORBIDDEN_SYSTEM or
                                    name.startswith(PROTO_ONLY_SYSTEM_DIRS)):
        yield "fw_image/ includes <%s> (the flash model is libc only)" % name
    if src_layer == "tools/upload" and (name in UPLOAD_FORBIDDEN_SYSTEM or
                                        name.startswith(PROTO_ONLY_SYSTEM_DIRS)):
        yield "tools/upload/ includes <%s> (the uploader is libc and POSIX only)" % name
    if is_proto_only(name) and src_layer != "proto" and not (
            src_layer == "tools/lwm2m_server" and name.startswith("coap3/")):
        yield "<%s> outside proto/ (only proto/ and tools/lwm2m_server/ speak the protocol " \
              "libraries)" % name


def sources(root):
    for top in ROOTS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for f in sorted(filenames):
                if f.endswith((".c", ".h")):
                    full = os.path.join(dirpath, f)
                    yield os.path.relpath(full, root).replace(os.sep, "/")


def violations(root):
    def exists(name):
        return os.path.isfile(os.path.join(root, name))

    for src in sources(root):
        with open(os.path.join(root, src), encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                kind, name = m.groups()
                rules = check_quoted if kind == '"' else check_angled
                for rule in rules(src, name, exists):
                    yield "%s:%d: %s: %s" % (src, lineno, rule, line.strip())


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not all(os.path.isdir(os.path.join(root, d)) for d in ("fw_image", "proto", "sim")):
        print("check_includes: %s is not a bcsim checkout" % root, file=sys.stderr)
        return 2
    found = list(violations(root))
    for v in found:
        print(v)
    if found:
        print("check_includes: %d include(s) break the layering rule" % len(found))
        return 1
    print("check_includes: every include keeps to the layering rule")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
