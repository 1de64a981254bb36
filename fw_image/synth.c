#include "fw_image/synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUNCTIONS 1600
#define BASE      0x08004000u
#define VECTORS   96

struct fn {
    uint32_t body;  /* seed of the function's instructions */
    uint16_t words; /* length in 16-bit words */
    uint32_t addr;
};

struct rng {
    uint32_t s;
};

static uint32_t next(struct rng *r)
{
    /* xorshift32: tiny, and the same on every platform. */
    r->s ^= r->s << 13;
    r->s ^= r->s >> 17;
    r->s ^= r->s << 5;
    return r->s;
}

static struct rng rng_for(uint32_t a, uint32_t b)
{
    struct rng r = {(a * 2654435761u) ^ (b * 2246822519u) ^ 0x5bd1e995u};
    if (r.s == 0)
        r.s = 1;
    for (int i = 0; i < 4; i++)
        next(&r);
    return r;
}

static struct fn new_function(struct rng *r)
{
    return (struct fn){.body = next(r), .words = (uint16_t)(12 + next(r) % 180)};
}

/* Generation g edits the list of generation g-1. */
static size_t evolve(struct fn *f, size_t n, size_t cap, uint32_t seed, unsigned g)
{
    struct rng r = rng_for(seed, 1000 + g);
    for (size_t i = 0; i < n; i++) {
        uint32_t x = next(&r) % 1000;
        if (x < 25) /* rewritten */
            f[i].body = next(&r);
        else if (x < 35) /* grown or shrunk */
            f[i].words = (uint16_t)(12 + (f[i].words + next(&r) % 40) % 200);
    }
    for (int k = 0; k < 12 && n < cap; k++) { /* new functions */
        size_t at = next(&r) % (n + 1);
        memmove(f + at + 1, f + at, (n - at) * sizeof *f);
        f[at] = new_function(&r);
        n++;
    }
    for (int k = 0; k < 5 && n > 1; k++) { /* removed ones */
        size_t at = next(&r) % n;
        memmove(f + at, f + at + 1, (n - at - 1) * sizeof *f);
        n--;
    }
    return n;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

/* A function body: mostly common 16-bit opcodes, some literals, calls. */
static size_t emit_function(const struct fn *f, const struct fn *all, size_t n, uint8_t *out)
{
    static const uint16_t common[16] = {0xb580, 0x4608, 0x2000, 0x6800, 0x6018, 0xbd80,
                                        0x4770, 0x2801, 0xd1fa, 0x3001, 0x1c40, 0x4293,
                                        0x9b01, 0xe7f0, 0x7818, 0x46bd};
    struct rng r = rng_for(f->body, 7);
    size_t at = 0;
    for (uint16_t w = 0; w < f->words;) {
        uint32_t x = next(&r) % 100;
        if (x < 8 && f->words - w >= 2) { /* call: an absolute address that moves */
            const struct fn *callee = &all[next(&r) % n];
            put32(out + at, 0xf000f800u ^ ((callee->addr - BASE) >> 1 & 0x07ff07ffu));
            at += 4;
            w += 2;
        } else if (x < 20 && f->words - w >= 2) { /* a literal */
            put32(out + at, next(&r) % 4096);
            at += 4;
            w += 2;
        } else {
            put16(out + at, (uint16_t)(common[next(&r) % 16] + (x % 3) * 0x10));
            at += 2;
            w++;
        }
    }
    return at;
}

size_t synth_firmware(uint32_t seed, unsigned generation, const char *banner, uint8_t *out,
                      size_t size)
{
    size_t cap = FUNCTIONS + 16 * (generation + 1);
    struct fn *f = calloc(cap, sizeof *f);
    if (!f)
        return 0;
    struct rng r = rng_for(seed, 0);
    size_t n = FUNCTIONS;
    for (size_t i = 0; i < n; i++)
        f[i] = new_function(&r);
    for (unsigned g = 1; g <= generation; g++)
        n = evolve(f, n, cap, seed, g);

    uint32_t addr = BASE + VECTORS * 4;
    for (size_t i = 0; i < n; i++) {
        f[i].addr = addr;
        addr += f[i].words * 2u;
    }
    size_t need = VECTORS * 4 + (addr - BASE - VECTORS * 4) + strlen(banner) + 1024;
    if (need > size) {
        free(f);
        return 0;
    }
    size_t at = 0;
    for (int v = 0; v < VECTORS; v++, at += 4) /* vectors: handler addresses, Thumb bit */
        put32(out + at, f[(size_t)v * 7 % n].addr | 1);
    for (size_t i = 0; i < n; i++)
        at += emit_function(&f[i], f, n, out + at);
    /* The string table: the banner, then messages that every generation shares. */
    at += (size_t)snprintf((char *)out + at, size - at, "%s", banner) + 1;
    static const char *const words[] = {"init", "radio", "sim",   "pdn", "fota",
                                        "uart", "timer", "error", "ok",  "retry"};
    struct rng s = rng_for(seed, 99);
    while (at + 32 < need) {
        int k = snprintf((char *)out + at, size - at, "%s %s %u", words[next(&s) % 10],
                         words[next(&s) % 10], next(&s) % 100);
        at += (size_t)k + 1;
    }
    free(f);
    return at;
}
