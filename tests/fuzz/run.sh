#!/usr/bin/env bash
# Builds the libFuzzer targets and runs them one after the other.
#
#   tests/fuzz/run.sh [SECONDS [TARGET...]]   default 300 s each, all targets
#   tests/fuzz/run.sh --seeds                 rewrite the committed seed corpora
#
# Needs clang with libFuzzer (Debian: clang, libclang-rt-14-dev). The build
# goes to build-fuzz/ (CC=clang, -Dfuzz=true); the growing corpora and any
# crash artifacts stay there too: copy a minimised reproducer to
# tests/fuzz/crashes/ by hand (README.md says how).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-fuzz
here=$root/tests/fuzz

if [ ! -f "$build/build.ninja" ]; then
    (cd "$root" && CC=clang meson setup build-fuzz -Dfuzz=true)
fi
ninja -C "$build" tests/fuzz/fuzz_package tests/fuzz/fuzz_package_raw tests/fuzz/fuzz_resume \
    tests/fuzz/fuzz_make_seeds

if [ "${1:-}" = "--seeds" ]; then
    rm -f "$here"/corpus_package/* "$here"/corpus_resume/*
    "$build/tests/fuzz/fuzz_make_seeds" "$here/corpus_package" "$here/corpus_resume"
    exit 0
fi

seconds=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_package fuzz_resume fuzz_package_raw)

for t in "${targets[@]}"; do
    case $t in
    fuzz_resume) seeds=$here/corpus_resume max_len=1024 ;;
    *) seeds=$here/corpus_package max_len=32768 ;; # the FOTA area of the harness
    esac
    corpus=$build/fuzz-corpus/$t
    artifacts=$build/fuzz-artifacts
    mkdir -p "$corpus" "$artifacts"
    echo "== $t, $seconds s"
    "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$artifacts/$t-" \
        "$corpus" "$seeds"
done
