/* Unit tests for the small core pieces: control words, JSON writer, kvfile, URC
 * queue, clock and resolver. */
#include <check.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "sim/base/clock.h"
#include "sim/base/json.h"
#include "sim/base/kvfile.h"
#include "proto/resolve.h"
#include "sim/control/words.h"
#include "sim/urc.h"

/* ================= words ================= */

START_TEST(test_words_split_basic)
{
    char line[] = "  urc\t+CEREG:  1 \t";
    char *argv[WORDS_MAX];
    ck_assert_int_eq(words_split(line, argv), 3);
    ck_assert_str_eq(argv[0], "urc");
    ck_assert_str_eq(argv[1], "+CEREG:");
    ck_assert_str_eq(argv[2], "1");
}
END_TEST

START_TEST(test_words_split_quoted)
{
    char line[] = "urc \"+QIND: \\\"FOTA\\\",\\\"START\\\"\" \"\" \"a\\tb\\n\\r\\\\\"";
    char *argv[WORDS_MAX];
    ck_assert_int_eq(words_split(line, argv), 4);
    ck_assert_str_eq(argv[0], "urc");
    ck_assert_str_eq(argv[1], "+QIND: \"FOTA\",\"START\"");
    ck_assert_str_eq(argv[2], "");
    ck_assert_str_eq(argv[3], "a\tb\n\r\\");
}
END_TEST

START_TEST(test_words_split_empty)
{
    char *argv[WORDS_MAX];
    char e1[] = "";
    char e2[] = " \t  ";
    ck_assert_int_eq(words_split(e1, argv), 0);
    ck_assert_int_eq(words_split(e2, argv), 0);
}
END_TEST

START_TEST(test_words_split_bad)
{
    static const char *const bad[] = {
        "a \"b\\x\"",  /* unknown escape */
        "\"abc",       /* unterminated */
        "a \"abc\\\"", /* escaped quote, then unterminated */
        "\"abc\\",     /* backslash at the end */
        "\"a\"b",      /* text after the closing quote */
        "\"a\"\"b\"",  /* two strings glued */
        "\"\\0\"",     /* \0 is no escape */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[64];
        char *argv[WORDS_MAX];
        snprintf(line, sizeof line, "%s", bad[i]);
        ck_assert_msg(words_split(line, argv) == -1, "accepted <%s>", bad[i]);
    }
}
END_TEST

START_TEST(test_words_split_max)
{
    char *argv[WORDS_MAX];
    char line[128] = "";
    for (int i = 0; i < WORDS_MAX; i++)
        snprintf(line + strlen(line), sizeof line - strlen(line), "w%d ", i);
    ck_assert_int_eq(words_split(line, argv), WORDS_MAX);
    ck_assert_str_eq(argv[0], "w0");
    ck_assert_str_eq(argv[WORDS_MAX - 1], "w15");

    line[0] = '\0';
    for (int i = 0; i <= WORDS_MAX; i++)
        snprintf(line + strlen(line), sizeof line - strlen(line), "w%d ", i);
    ck_assert_int_eq(words_split(line, argv), -1);
}
END_TEST

START_TEST(test_words_quote_exact)
{
    char buf[64] = "";
    ck_assert_int_eq(words_quote(buf, sizeof buf, "urc"), 0);
    ck_assert_str_eq(buf, "\"urc\"");
    ck_assert_int_eq(words_quote(buf, sizeof buf, "a\"b\\c\n\r\t"), 0);
    ck_assert_str_eq(buf, "\"urc\" \"a\\\"b\\\\c\\n\\r\\t\"");
    ck_assert_int_eq(words_quote(buf, sizeof buf, ""), 0);
    ck_assert_str_eq(buf, "\"urc\" \"a\\\"b\\\\c\\n\\r\\t\" \"\"");
}
END_TEST

START_TEST(test_words_round_trip)
{
    static const char *const words[] = {
        "plain",       "",
        "with space",  "q\"uote",
        "back\\slash", "new\nline",
        "tab\there",   "cr\rx",
        "\\\"",        "end\\",
        "\"",          "  ",
        "\\n",         "+QIND: \"FOTA\",\"END\",0",
    };
    enum { N = sizeof words / sizeof words[0] };
    ck_assert_int_le(N, WORDS_MAX);
    char buf[512] = "";
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(words_quote(buf, sizeof buf, words[i]), 0);
    char *argv[WORDS_MAX];
    ck_assert_int_eq(words_split(buf, argv), N);
    for (int i = 0; i < N; i++)
        ck_assert_str_eq(argv[i], words[i]);
}
END_TEST

START_TEST(test_words_quote_too_small)
{
    char buf[8] = "";
    ck_assert_int_eq(words_quote(buf, 2, ""), -1); /* needs 3: "" and NUL */
    ck_assert_int_eq(words_quote(buf, 3, ""), 0);
    ck_assert_str_eq(buf, "\"\"");

    char b2[16] = "";
    ck_assert_int_eq(words_quote(b2, 5, "abc"), -1); /* needs 6 */
    b2[0] = '\0';
    ck_assert_int_eq(words_quote(b2, 6, "abc"), 0);
    ck_assert_str_eq(b2, "\"abc\"");

    char b3[16] = "";
    ck_assert_int_eq(words_quote(b3, 4, "\n"), -1); /* "\n" escaped needs 5 */
    b3[0] = '\0';
    ck_assert_int_eq(words_quote(b3, 5, "\n"), 0);
    ck_assert_str_eq(b3, "\"\\n\"");
}
END_TEST

START_TEST(test_words_quote_empty_word_bounds)
{
    /* Appending "" to "ab" takes 'ab ""' plus NUL: 6 bytes. With size 5 it must
     * fail and write nothing at or beyond buf[5]. */
    char buf[16];
    memset(buf, 'X', sizeof buf);
    memcpy(buf, "ab", 3);
    int r = words_quote(buf, 5, "");
    ck_assert_msg(buf[5] == 'X', "words_quote wrote past size (buf[5] = 0x%02x)",
                  (unsigned char)buf[5]);
    ck_assert_int_eq(r, -1);
}
END_TEST

/* ================= json ================= */

START_TEST(test_json_basic)
{
    char buf[128];
    struct jw w;
    jw_begin(&w, buf, sizeof buf);
    jw_str(&w, "state", "registered");
    jw_int(&w, "n", -5);
    jw_bool(&w, "t", true);
    jw_bool(&w, "f", false);
    jw_strn(&w, "cut", "abcdef", 3);
    const char *s = jw_end(&w);
    ck_assert_ptr_eq(s, buf);
    ck_assert_str_eq(s,
                     "{\"state\":\"registered\",\"n\":-5,\"t\":true,\"f\":false,\"cut\":\"abc\"}");
    ck_assert(jw_ok(&w));
}
END_TEST

START_TEST(test_json_empty)
{
    char buf[8];
    struct jw w;
    jw_begin(&w, buf, sizeof buf);
    ck_assert_str_eq(jw_end(&w), "{}");
    ck_assert(jw_ok(&w));
}
END_TEST

START_TEST(test_json_int_range)
{
    char buf[128];
    struct jw w;
    jw_begin(&w, buf, sizeof buf);
    jw_int(&w, "min", INT64_MIN);
    jw_int(&w, "max", INT64_MAX);
    jw_int(&w, "zero", 0);
    ck_assert_str_eq(jw_end(&w), "{\"min\":-9223372036854775808,\"max\":9223372036854775807,"
                                 "\"zero\":0}");
    ck_assert(jw_ok(&w));
}
END_TEST

START_TEST(test_json_escaping)
{
    char buf[256];
    struct jw w;
    jw_begin(&w, buf, sizeof buf);
    jw_str(&w, "v", "q\"b\\s\n\r\t\x01\x1f\x7f\x80\xff/");
    jw_strn(&w, "k\"\n", "a\0b", 3);
    ck_assert_str_eq(jw_end(&w), "{\"v\":\"q\\\"b\\\\s\\n\\r\\u0009\\u0001\\u001f\\u007f\\u0080"
                                 "\\u00ff/\",\"k\\\"\\n\":\"a\\u0000b\"}");
    ck_assert(jw_ok(&w));
}
END_TEST

static const char *json_fill(struct jw *w, char *buf, size_t size)
{
    jw_begin(w, buf, size);
    jw_str(w, "key", "value \"quoted\"\n");
    jw_int(w, "num", 1234567);
    jw_bool(w, "b", true);
    return jw_end(w);
}

START_TEST(test_json_overflow_every_size)
{
    char full[256];
    struct jw w;
    json_fill(&w, full, sizeof full);
    ck_assert(jw_ok(&w));
    size_t flen = strlen(full);
    ck_assert_str_eq(full, "{\"key\":\"value \\\"quoted\\\"\\n\",\"num\":1234567,\"b\":true}");

    for (size_t size = 2; size <= flen + 8; size++) {
        char buf[256];
        memset(buf, 'X', sizeof buf);
        const char *s = json_fill(&w, buf, size);
        size_t n = strnlen(s, size);
        ck_assert_msg(n < size, "size %zu: not NUL-terminated", size);
        if (size < 3) { /* no room for "{}": nothing, flagged */
            ck_assert_msg(n == 0 && !jw_ok(&w), "size %zu: '%s'", size, s);
            continue;
        }
        ck_assert_msg(n > 0 && s[n - 1] == '}', "size %zu: '%s' does not end with }", size, s);
        for (size_t i = size; i < sizeof buf; i++)
            ck_assert_msg(buf[i] == 'X', "size %zu: wrote at %zu", size, i);
        if (size > flen) {
            ck_assert_msg(jw_ok(&w), "size %zu: fits but flagged", size);
            ck_assert_str_eq(s, full);
        } else {
            ck_assert_msg(!jw_ok(&w), "size %zu: cut but not flagged", size);
        }
    }
}
END_TEST

START_TEST(test_json_tiny_buffer)
{
    char buf[8];
    memset(buf, 'X', sizeof buf);
    struct jw w;
    jw_begin(&w, buf, 4);
    jw_str(&w, "key", "value");
    const char *s = jw_end(&w);
    ck_assert(!jw_ok(&w));
    ck_assert_str_eq(s, "{}"); /* the field left out, flagged, still an object */
    ck_assert_int_eq(buf[4], 'X');
}
END_TEST

START_TEST(test_json_size_one_in_bounds)
{
    /* With room for nothing but the NUL, the writer must flag the overflow and
     * stay inside the buffer. */
    char buf[4];
    memset(buf, 'X', sizeof buf);
    struct jw w;
    jw_begin(&w, buf, 1);
    jw_end(&w);
    ck_assert(!jw_ok(&w));
    ck_assert_msg(buf[1] == 'X', "jw_end wrote past a 1-byte buffer");
}
END_TEST

/* ================= kvfile ================= */

static char tmpdir[PATH_MAX];

static void kv_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/bcsim-unit-XXXXXX", P_tmpdir);
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void empty_dir(void)
{
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[PATH_MAX + 256];
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
}

static void kv_teardown(void)
{
    empty_dir();
    rmdir(tmpdir);
}

static void path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

static size_t read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return n;
}

static int dir_entries(void)
{
    DIR *d = opendir(tmpdir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static struct kv kv, kv2;

START_TEST(test_kv_round_trip)
{
    char path[PATH_MAX + 16];
    path_in(path, sizeof path, "nvram");
    memset(&kv, 0, sizeof kv);
    ck_assert_int_eq(kv_set(&kv, "a", "1"), 0);
    ck_assert_int_eq(kv_set(&kv, "b", "hello world"), 0);
    ck_assert_int_eq(kv_set(&kv, "c", "x=y"), 0);
    ck_assert_int_eq(kv_set(&kv, "d", ""), 0);
    ck_assert_int_eq(kv_set(&kv, "e", "#not a comment \"q\" \\ \t"), 0);
    ck_assert_int_eq(kv_set_int(&kv, "f", -42), 0);
    ck_assert_int_eq(kv_save(&kv, path), 0);

    char text[512];
    read_file(path, text, sizeof text);
    ck_assert_str_eq(text, "a=1\nb=hello world\nc=x=y\nd=\ne=#not a comment \"q\" \\ \t\nf=-42\n");

    memset(&kv2, 0x55, sizeof kv2);
    int bad = -1;
    ck_assert_int_eq(kv_load(&kv2, path, &bad), 0);
    ck_assert_int_eq(bad, -1); /* untouched on success */
    ck_assert_int_eq(kv2.n, 6);
    ck_assert_str_eq(kv_get(&kv2, "a"), "1");
    ck_assert_str_eq(kv_get(&kv2, "b"), "hello world");
    ck_assert_str_eq(kv_get(&kv2, "c"), "x=y");
    ck_assert_str_eq(kv_get(&kv2, "d"), "");
    ck_assert_str_eq(kv_get(&kv2, "e"), "#not a comment \"q\" \\ \t");
    ck_assert_int_eq(kv_get_int(&kv2, "f", 0), -42);
    ck_assert_ptr_null(kv_get(&kv2, "zz"));
}
END_TEST

START_TEST(test_kv_save_replaces)
{
    char path[PATH_MAX + 16];
    empty_dir();
    path_in(path, sizeof path, "nvram");
    memset(&kv, 0, sizeof kv);
    kv_set(&kv, "old", "1");
    kv_set(&kv, "keep", "2");
    ck_assert_int_eq(kv_save(&kv, path), 0);
    kv_remove(&kv, "old");
    ck_assert_ptr_null(kv_get(&kv, "old"));
    kv_set(&kv, "keep", "3");
    ck_assert_int_eq(kv_save(&kv, path), 0);
    char text[128];
    read_file(path, text, sizeof text);
    ck_assert_str_eq(text, "keep=3\n");
    ck_assert_int_eq(dir_entries(), 1); /* no .tmp left behind */
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_int_eq(access(tmp, F_OK), -1);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_kv_save_failure_no_tmp)
{
    char path[PATH_MAX + 32];
    empty_dir();
    path_in(path, sizeof path, "nodir/nvram");
    memset(&kv, 0, sizeof kv);
    kv_set(&kv, "a", "1");
    ck_assert_int_eq(kv_save(&kv, path), -ENOENT);
    ck_assert_int_eq(dir_entries(), 0);
}
END_TEST

START_TEST(test_kv_missing_file)
{
    char path[PATH_MAX + 16];
    path_in(path, sizeof path, "absent");
    memset(&kv, 0, sizeof kv);
    kv_set(&kv, "stale", "1");
    int bad = -1;
    ck_assert_int_eq(kv_load(&kv, path, &bad), 0);
    ck_assert_int_eq(kv.n, 0);
    ck_assert_ptr_null(kv_get(&kv, "stale"));
    ck_assert_int_eq(bad, -1);
    ck_assert_int_eq(kv_load(&kv, path, NULL), 0);
}
END_TEST

START_TEST(test_kv_comments_and_blanks)
{
    char path[PATH_MAX + 16];
    path_in(path, sizeof path, "nvram");
    write_file(path, "# header\n\na=1\n#b=2\n\nc=3");
    ck_assert_int_eq(kv_load(&kv, path, NULL), 0);
    ck_assert_int_eq(kv.n, 2);
    ck_assert_str_eq(kv_get(&kv, "a"), "1");
    ck_assert_ptr_null(kv_get(&kv, "#b"));
    ck_assert_str_eq(kv_get(&kv, "c"), "3"); /* last line without newline */
}
END_TEST

START_TEST(test_kv_malformed_line)
{
    char path[PATH_MAX + 16];
    path_in(path, sizeof path, "nvram");
    write_file(path, "a=1\n# comment\n\nbroken\nb=2\n");
    int bad = 0;
    ck_assert_int_eq(kv_load(&kv, path, &bad), -EINVAL);
    ck_assert_int_eq(bad, 4);

    write_file(path, "a b=1\n");
    bad = 0;
    ck_assert_int_eq(kv_load(&kv, path, &bad), -EINVAL);
    ck_assert_int_eq(bad, 1);

    write_file(path, "x=1\n=empty key\n");
    bad = 0;
    ck_assert_int_eq(kv_load(&kv, path, &bad), -EINVAL);
    ck_assert_int_eq(bad, 2);
}
END_TEST

START_TEST(test_kv_long_comment_line)
{
    /* A comment longer than the line buffer is still one comment line. */
    char path[PATH_MAX + 16];
    path_in(path, sizeof path, "nvram");
    char text[1024];
    memset(text, 'c', 600);
    text[0] = '#';
    snprintf(text + 600, sizeof text - 600, "\na=1\n");
    write_file(path, text);
    int bad = 0;
    int r = kv_load(&kv, path, &bad);
    ck_assert_msg(r == 0, "kv_load = %d, bad_line = %d", r, bad);
    ck_assert_int_eq(kv.n, 1);
    ck_assert_str_eq(kv_get(&kv, "a"), "1");
}
END_TEST

START_TEST(test_kv_invalid_keys)
{
    memset(&kv, 0, sizeof kv);
    static const char *const bad[] = {"", "a=b", "a b", "a\nb", "#a", "a#"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(kv_set(&kv, bad[i], "v") == -EINVAL, "accepted key <%s>", bad[i]);
    char key[KV_KEY_MAX + 1];
    memset(key, 'k', KV_KEY_MAX);
    key[KV_KEY_MAX] = '\0';
    ck_assert_int_eq(kv_set(&kv, key, "v"), -EINVAL);
    key[KV_KEY_MAX - 1] = '\0';
    ck_assert_int_eq(kv_set(&kv, key, "v"), 0);
    ck_assert_str_eq(kv_get(&kv, key), "v");
    ck_assert_int_eq(kv.n, 1);
}
END_TEST

START_TEST(test_kv_invalid_values)
{
    memset(&kv, 0, sizeof kv);
    ck_assert_int_eq(kv_set(&kv, "a", "x\ny"), -EINVAL);
    char v[KV_VALUE_MAX + 1];
    memset(v, 'v', KV_VALUE_MAX);
    v[KV_VALUE_MAX] = '\0';
    ck_assert_int_eq(kv_set(&kv, "a", v), -EINVAL);
    v[KV_VALUE_MAX - 1] = '\0';
    ck_assert_int_eq(kv_set(&kv, "a", v), 0);
    ck_assert_str_eq(kv_get(&kv, "a"), v);
    ck_assert_int_eq(kv.n, 1);
}
END_TEST

START_TEST(test_kv_full)
{
    memset(&kv, 0, sizeof kv);
    char key[16];
    for (int i = 0; i < KV_MAX; i++) {
        snprintf(key, sizeof key, "k%d", i);
        ck_assert_int_eq(kv_set(&kv, key, "v"), 0);
    }
    ck_assert_int_eq(kv_set(&kv, "one_more", "v"), -ENOSPC);
    ck_assert_int_eq(kv_set(&kv, "k7", "changed"), 0); /* updates still work */
    ck_assert_str_eq(kv_get(&kv, "k7"), "changed");
    ck_assert_int_eq(kv.n, KV_MAX);
}
END_TEST

START_TEST(test_kv_get_int)
{
    memset(&kv, 0, sizeof kv);
    kv_set(&kv, "ok", "42");
    kv_set(&kv, "neg", "-7");
    kv_set(&kv, "junk", "12x");
    kv_set(&kv, "word", "abc");
    kv_set(&kv, "empty", "");
    kv_set(&kv, "big", "99999999999");
    kv_set(&kv, "max", "2147483647");
    kv_set(&kv, "over", "2147483648");
    ck_assert_int_eq(kv_get_int(&kv, "ok", -1), 42);
    ck_assert_int_eq(kv_get_int(&kv, "neg", -1), -7);
    ck_assert_int_eq(kv_get_int(&kv, "junk", -1), -1);
    ck_assert_int_eq(kv_get_int(&kv, "word", 5), 5);
    ck_assert_int_eq(kv_get_int(&kv, "empty", 9), 9);
    ck_assert_int_eq(kv_get_int(&kv, "big", 3), 3);
    ck_assert_int_eq(kv_get_int(&kv, "max", 0), INT_MAX);
    ck_assert_int_eq(kv_get_int(&kv, "over", 0), 0);
    ck_assert_int_eq(kv_get_int(&kv, "missing", 77), 77);
}
END_TEST

/* ================= urc ================= */

START_TEST(test_urc_order)
{
    struct urc_queue q = {0};
    ck_assert_int_eq(urc_push(&q, URC_FRAMED, "+CEREG: 1"), 0);
    ck_assert_int_eq(urc_push(&q, URC_RAW, "F1: 0000 0000"), 0);
    ck_assert_int_eq(urc_push(&q, URC_FRAMED, ""), 0);
    ck_assert_uint_eq(q.count, 3);

    struct urc *u = urc_pop(&q);
    ck_assert_ptr_nonnull(u);
    ck_assert_str_eq(u->text, "+CEREG: 1");
    ck_assert_uint_eq(u->len, 9);
    ck_assert_int_eq(u->framing, URC_FRAMED);
    free(u);
    u = urc_pop(&q);
    ck_assert_str_eq(u->text, "F1: 0000 0000");
    ck_assert_int_eq(u->framing, URC_RAW);
    free(u);
    u = urc_pop(&q);
    ck_assert_str_eq(u->text, "");
    ck_assert_uint_eq(u->len, 0);
    free(u);
    ck_assert_uint_eq(q.count, 0);
    ck_assert_ptr_null(urc_pop(&q));
    ck_assert_ptr_null(q.head);
    ck_assert_ptr_null(q.tail);

    /* The queue works again after running empty. */
    ck_assert_int_eq(urc_push(&q, URC_FRAMED, "again"), 0);
    u = urc_pop(&q);
    ck_assert_str_eq(u->text, "again");
    free(u);
    ck_assert_ptr_null(urc_pop(&q));
}
END_TEST

START_TEST(test_urc_limit)
{
    struct urc_queue q = {0};
    char text[16];
    for (int i = 0; i < URC_QUEUE_MAX; i++) {
        snprintf(text, sizeof text, "U%d", i);
        ck_assert_int_eq(urc_push(&q, URC_FRAMED, text), 0);
    }
    ck_assert_uint_eq(q.count, URC_QUEUE_MAX);
    ck_assert_uint_eq(q.dropped, 0);
    ck_assert_int_eq(urc_push(&q, URC_FRAMED, "late1"), -ENOSPC);
    ck_assert_int_eq(urc_push(&q, URC_RAW, "late2"), -ENOSPC);
    ck_assert_uint_eq(q.dropped, 2);
    ck_assert_uint_eq(q.count, URC_QUEUE_MAX);

    struct urc *u = urc_pop(&q); /* the oldest is kept */
    ck_assert_str_eq(u->text, "U0");
    free(u);
    ck_assert_int_eq(urc_push(&q, URC_FRAMED, "fits"), 0);
    for (int i = 1; i < URC_QUEUE_MAX; i++) {
        u = urc_pop(&q);
        snprintf(text, sizeof text, "U%d", i);
        ck_assert_str_eq(u->text, text);
        free(u);
    }
    u = urc_pop(&q);
    ck_assert_str_eq(u->text, "fits");
    free(u);
    ck_assert_ptr_null(urc_pop(&q));
    ck_assert_uint_eq(q.dropped, 2);
}
END_TEST

START_TEST(test_urc_clear)
{
    struct urc_queue q = {0};
    urc_push(&q, URC_FRAMED, "a");
    urc_push(&q, URC_FRAMED, "b");
    urc_clear(&q);
    ck_assert_uint_eq(q.count, 0);
    ck_assert_ptr_null(q.head);
    ck_assert_ptr_null(q.tail);
    ck_assert_ptr_null(urc_pop(&q));
}
END_TEST

START_TEST(test_urc_text_max)
{
    struct urc_queue q = {0};
    char text[URC_TEXT_MAX + 100];
    memset(text, 'L', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    ck_assert_int_eq(urc_push(&q, URC_RAW, text), 0);
    struct urc *u = urc_pop(&q);
    ck_assert_uint_eq(u->len, URC_TEXT_MAX);
    ck_assert_uint_eq(strlen(u->text), URC_TEXT_MAX);
    free(u);
}
END_TEST

START_TEST(test_urc_wire)
{
    struct urc_queue q = {0};
    urc_push(&q, URC_FRAMED, "X");
    urc_push(&q, URC_RAW, "X");
    struct urc *f = urc_pop(&q), *r = urc_pop(&q);
    char buf[32];
    ck_assert_uint_eq(urc_wire(f, buf, sizeof buf), 5);
    ck_assert_str_eq(buf, "\r\nX\r\n");
    ck_assert_uint_eq(urc_wire(r, buf, sizeof buf), 3);
    ck_assert_str_eq(buf, "X\r\n");
    /* Cut to the buffer, NUL-terminated, the length is what was written. */
    ck_assert_uint_eq(urc_wire(f, buf, 4), 3);
    ck_assert_str_eq(buf, "\r\nX");
    ck_assert_uint_eq(urc_wire(r, buf, 4), 3);
    ck_assert_str_eq(buf, "X\r\n");
    free(f);
    free(r);
}
END_TEST

START_TEST(test_urc_wire_size_zero)
{
    struct urc_queue q = {0};
    urc_push(&q, URC_FRAMED, "X");
    struct urc *u = urc_pop(&q);
    char buf[1] = {'Z'};
    size_t n = urc_wire(u, buf, 0);
    free(u);
    ck_assert_msg(n == 0, "urc_wire with size 0 returned %zu", n);
    ck_assert_int_eq(buf[0], 'Z');
}
END_TEST

/* ================= clock ================= */

START_TEST(test_clk_parse)
{
    struct clk c = {0};
    ck_assert_int_eq(clk_parse(&c, "realtime"), 0);
    ck_assert(!c.fast);
    ck_assert(c.factor == 1.0);
    ck_assert_uint_eq(clk_scale(&c, 1000), 1000);

    ck_assert_int_eq(clk_parse(&c, "fast"), 0);
    ck_assert(c.fast);
    ck_assert_uint_eq(clk_scale(&c, 1000), 0);
    ck_assert_uint_eq(clk_scale(&c, UINT64_C(1) << 40), 0);

    ck_assert_int_eq(clk_parse(&c, "2.5"), 0);
    ck_assert(!c.fast);
    ck_assert(c.factor == 2.5);
    ck_assert_uint_eq(clk_scale(&c, 1000), 400);

    ck_assert_int_eq(clk_parse(&c, "4"), 0);
    ck_assert_uint_eq(clk_scale(&c, 1000), 250);

    ck_assert_int_eq(clk_parse(&c, "0.5"), 0);
    ck_assert_uint_eq(clk_scale(&c, 1000), 2000);
}
END_TEST

START_TEST(test_clk_parse_invalid)
{
    static const char *const bad[] = {"0",   "-1",  "abc", "",     "2.5x",     " ",
                                      "nan", "inf", "1e7", "Fast", "realtime "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct clk c = {.factor = 3.0};
        ck_assert_msg(clk_parse(&c, bad[i]) == -EINVAL, "accepted <%s>", bad[i]);
    }
}
END_TEST

START_TEST(test_clk_scale_rounding)
{
    struct clk c = {0};
    ck_assert_int_eq(clk_parse(&c, "3"), 0);
    ck_assert_uint_eq(clk_scale(&c, 1000), 333);
    ck_assert_uint_eq(clk_scale(&c, 2), 1);
    ck_assert_uint_eq(clk_scale(&c, 0), 0);
    ck_assert_int_eq(clk_parse(&c, "realtime"), 0);
    ck_assert_uint_eq(clk_scale(&c, 0), 0);
    ck_assert_uint_eq(clk_scale(&c, 86400000), 86400000);
}
END_TEST

START_TEST(test_clk_describe)
{
    struct clk c = {0};
    char buf[32];
    clk_parse(&c, "realtime");
    clk_describe(&c, buf, sizeof buf);
    ck_assert_str_eq(buf, "realtime");
    clk_parse(&c, "fast");
    clk_describe(&c, buf, sizeof buf);
    ck_assert_str_eq(buf, "fast");
    clk_parse(&c, "2.5");
    clk_describe(&c, buf, sizeof buf);
    ck_assert_str_eq(buf, "x2.5");
}
END_TEST

/* ================= resolve ================= */

static struct resolver res;

static struct {
    int calls;
    int status;
    bool have_addr;
    struct sockaddr_storage addr;
} got;

static void on_resolve(void *ctx, int status, const struct sockaddr *addr)
{
    ck_assert_ptr_eq(ctx, &got);
    got.calls++;
    got.status = status;
    got.have_addr = addr != NULL;
    if (addr)
        memcpy(&got.addr, addr,
               addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                           : sizeof(struct sockaddr_in));
}

static void res_setup(void)
{
    memset(&res, 0, sizeof res);
    memset(&got, 0, sizeof got);
}

static void assert_v4(const struct sockaddr_storage *a, const char *ip, uint16_t port)
{
    ck_assert_int_eq(a->ss_family, AF_INET);
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)a;
    char s[INET_ADDRSTRLEN];
    ck_assert_ptr_nonnull(inet_ntop(AF_INET, &v4->sin_addr, s, sizeof s));
    ck_assert_str_eq(s, ip);
    ck_assert_uint_eq(ntohs(v4->sin_port), port);
}

static void assert_v6(const struct sockaddr_storage *a, const char *ip, uint16_t port)
{
    ck_assert_int_eq(a->ss_family, AF_INET6);
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)a;
    char s[INET6_ADDRSTRLEN];
    ck_assert_ptr_nonnull(inet_ntop(AF_INET6, &v6->sin6_addr, s, sizeof s));
    ck_assert_str_eq(s, ip);
    ck_assert_uint_eq(ntohs(v6->sin6_port), port);
}

START_TEST(test_resolve_add_valid)
{
    char why[128] = "";
    ck_assert_int_eq(resolve_add(&res, "www.quectel.com:127.0.0.1", why, sizeof why), 0);
    ck_assert_int_eq(resolve_add(&res, "h:::1", why, sizeof why), 0);
    ck_assert_int_eq(resolve_add(&res, "h2:[::1]", why, sizeof why), 0);
    ck_assert_int_eq(res.n, 3);
    ck_assert_str_eq(res.map[0].host, "www.quectel.com");
    assert_v4(&res.map[0].addr, "127.0.0.1", 0);
    ck_assert_str_eq(res.map[1].host, "h");
    assert_v6(&res.map[1].addr, "::1", 0);
    ck_assert_str_eq(res.map[2].host, "h2");
    assert_v6(&res.map[2].addr, "::1", 0);
}
END_TEST

START_TEST(test_resolve_add_invalid)
{
    static const char *const bad[] = {":1.2.3.4", "h:",      "h:notanip",  "nocolon",
                                      "",         "h:1.2.3", "h:[1.2.3.4", "h:1.2.3.4:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char why[256] = "";
        ck_assert_msg(resolve_add(&res, bad[i], why, sizeof why) == -EINVAL, "accepted <%s>",
                      bad[i]);
        ck_assert_msg(strncmp(why, "--resolve", 9) == 0, "why = <%s>", why);
    }
    ck_assert_int_eq(res.n, 0);

    char why[256];
    resolve_add(&res, ":1.2.3.4", why, sizeof why);
    ck_assert_str_eq(why, "--resolve :1.2.3.4: expected HOST:ADDR or HOST[:PORT]=ADDR[:PORT]");
    resolve_add(&res, "h:notanip", why, sizeof why);
    ck_assert_str_eq(why, "--resolve h:notanip: 'notanip' is not an IPv4 or IPv6 address");
}
END_TEST

START_TEST(test_resolve_add_limits)
{
    char why[256];
    char spec[RESOLVE_HOST_MAX + 32];
    memset(spec, 'h', RESOLVE_HOST_MAX);
    snprintf(spec + RESOLVE_HOST_MAX, sizeof spec - RESOLVE_HOST_MAX, ":127.0.0.1");
    ck_assert_int_eq(resolve_add(&res, spec, why, sizeof why), -EINVAL);
    /* RESOLVE_HOST_MAX - 1 characters fit. */
    memmove(spec + RESOLVE_HOST_MAX - 1, spec + RESOLVE_HOST_MAX,
            strlen(spec + RESOLVE_HOST_MAX) + 1);
    ck_assert_int_eq(resolve_add(&res, spec, why, sizeof why), 0);
    ck_assert_uint_eq(strlen(res.map[0].host), RESOLVE_HOST_MAX - 1);
    for (int i = 1; i < RESOLVE_MAX; i++) {
        snprintf(spec, sizeof spec, "h%d:10.0.0.%d", i, i);
        ck_assert_int_eq(resolve_add(&res, spec, why, sizeof why), 0);
    }
    ck_assert_int_eq(resolve_add(&res, "more:10.0.0.1", why, sizeof why), -ENOSPC);
    ck_assert_int_eq(res.n, RESOLVE_MAX);
}
END_TEST

START_TEST(test_resolve_override_sync)
{
    char why[128];
    ck_assert_int_eq(resolve_add(&res, "www.quectel.com:127.0.0.1", why, sizeof why), 0);
    ck_assert_int_eq(resolve_add(&res, "v6.example:[::1]", why, sizeof why), 0);
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    struct resolve_req req;
    ck_assert_int_eq(resolve_start(&res, &loop, &req, "WWW.Quectel.COM", 8080, on_resolve, &got),
                     0);
    ck_assert_int_eq(got.calls, 1); /* before resolve_start returned */
    ck_assert_int_eq(got.status, 0);
    ck_assert(got.have_addr);
    assert_v4(&got.addr, "127.0.0.1", 8080);

    ck_assert_int_eq(resolve_start(&res, &loop, &req, "v6.example", 443, on_resolve, &got), 0);
    ck_assert_int_eq(got.calls, 2);
    assert_v6(&got.addr, "::1", 443);
    /* The override's own port stays 0 for the next user. */
    assert_v4(&res.map[0].addr, "127.0.0.1", 0);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_NOWAIT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(test_resolve_literal_sync)
{
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    struct resolve_req req;
    ck_assert_int_eq(resolve_start(NULL, &loop, &req, "10.1.2.3", 5683, on_resolve, &got), 0);
    ck_assert_int_eq(got.calls, 1);
    ck_assert_int_eq(got.status, 0);
    assert_v4(&got.addr, "10.1.2.3", 5683);

    ck_assert_int_eq(resolve_start(&res, &loop, &req, "[::1]", 80, on_resolve, &got), 0);
    ck_assert_int_eq(got.calls, 2);
    assert_v6(&got.addr, "::1", 80);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* HOST[:PORT]=ADDR[:PORT]: the port a map applies to, and the one it connects to. */
START_TEST(test_resolve_add_ports)
{
    char why[256] = "";
    static const char *const good[] = {
        "h:100=127.0.0.1:41017", "h=127.0.0.1",
        "h2=[::1]:8080",         "h2:1=::1",
        "[::1]:100=10.0.0.1:1",  "h:65535=[1.2.3.4]:65535",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(resolve_add(&res, good[i], why, sizeof why) == 0, "%s: %s", good[i], why);
    ck_assert_int_eq(res.n, 6);
    ck_assert_str_eq(res.map[0].host, "h");
    ck_assert_uint_eq(res.map[0].port, 100);
    assert_v4(&res.map[0].addr, "127.0.0.1", 41017);
    ck_assert_uint_eq(res.map[1].port, 0);
    assert_v4(&res.map[1].addr, "127.0.0.1", 0);
    ck_assert_uint_eq(res.map[2].port, 0);
    assert_v6(&res.map[2].addr, "::1", 8080);
    ck_assert_uint_eq(res.map[3].port, 1);
    assert_v6(&res.map[3].addr, "::1", 0);
    ck_assert_str_eq(res.map[4].host, "::1"); /* as struct url holds it: unbracketed */
    ck_assert_uint_eq(res.map[4].port, 100);
    assert_v4(&res.map[4].addr, "10.0.0.1", 1);
    ck_assert_uint_eq(res.map[5].port, 65535);
    assert_v4(&res.map[5].addr, "1.2.3.4", 65535);
}
END_TEST

START_TEST(test_resolve_add_ports_invalid)
{
    static const char *const bad[] = {
        "h:0=1.2.3.4",
        "h:65536=1.2.3.4",
        "h:123456=1.2.3.4",
        "h=1.2.3.4:0",
        "h=1.2.3.4:99999",
        "h=1.2.3.4:",
        "h:=1.2.3.4",
        "=1.2.3.4",
        "h=",
        "h=[::1",
        "h=[::1]x",
        "h=[::1]:",
        "h=1.2.3.4:80:90",
        "[1.2.3.4]:1=1.2.3.4",
        "[::1=1.2.3.4",
        "h:x=1.2.3.4",
        "h=host:80",
        "h:-1=1.2.3.4",
        "h=1.2.3.4:+80",
        "h:100:200=1.2.3.4",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char why[256] = "";
        ck_assert_msg(resolve_add(&res, bad[i], why, sizeof why) == -EINVAL, "accepted <%s>",
                      bad[i]);
        ck_assert_msg(strncmp(why, "--resolve ", 10) == 0 && !strchr(why, '\n'), "why = <%s>", why);
    }
    ck_assert_int_eq(res.n, 0);
    char why[256];
    resolve_add(&res, "h:0=1.2.3.4", why, sizeof why);
    ck_assert_str_eq(why, "--resolve h:0=1.2.3.4: port '0' is not a number from 1 to 65535");
    resolve_add(&res, "h=1.2.3.4:65536", why, sizeof why);
    ck_assert_str_eq(why,
                     "--resolve h=1.2.3.4:65536: port '65536' is not a number from 1 to 65535");
    /* One map per HOST and per HOST:PORT: a second would be ignored, so it is refused. */
    ck_assert_int_eq(resolve_add(&res, "h=1.2.3.4", why, sizeof why), 0);
    ck_assert_int_eq(resolve_add(&res, "H:5.6.7.8", why, sizeof why), -EINVAL);
    ck_assert_str_eq(why, "--resolve H:5.6.7.8: H is already mapped");
    ck_assert_int_eq(resolve_add(&res, "h:100=1.2.3.4", why, sizeof why), 0);
    ck_assert_int_eq(resolve_add(&res, "h:100=5.6.7.8:9", why, sizeof why), -EINVAL);
    ck_assert_str_eq(why, "--resolve h:100=5.6.7.8:9: h port 100 is already mapped");
    ck_assert_int_eq(res.n, 2);
}
END_TEST

/* A map for the URL's port wins over one for every port; a map's own port,
 * if any, replaces the URL's; other ports go on to literals and the system. */
START_TEST(test_resolve_ports_lookup)
{
    char why[128];
    ck_assert_int_eq(resolve_add(&res, "www.quectel.com=127.0.0.1", why, sizeof why), 0);
    ck_assert_int_eq(resolve_add(&res, "www.quectel.com:100=[::1]:41017", why, sizeof why), 0);
    ck_assert_int_eq(resolve_add(&res, "10.0.0.1:100=127.0.0.2:5000", why, sizeof why), 0);
    ck_assert_int_eq(resolve_add(&res, "all=127.0.0.3:7", why, sizeof why), 0);
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    struct resolve_req req;
    ck_assert_int_eq(resolve_start(&res, &loop, &req, "www.quectel.com", 100, on_resolve, &got), 0);
    assert_v6(&got.addr, "::1", 41017);
    ck_assert_int_eq(resolve_start(&res, &loop, &req, "WWW.quectel.com", 101, on_resolve, &got), 0);
    assert_v4(&got.addr, "127.0.0.1", 101);
    ck_assert_int_eq(resolve_start(&res, &loop, &req, "10.0.0.1", 100, on_resolve, &got), 0);
    assert_v4(&got.addr, "127.0.0.2", 5000);
    ck_assert_int_eq(resolve_start(&res, &loop, &req, "10.0.0.1", 80, on_resolve, &got), 0);
    assert_v4(&got.addr, "10.0.0.1", 80); /* the literal itself */
    ck_assert_int_eq(resolve_start(&res, &loop, &req, "all", 1, on_resolve, &got), 0);
    assert_v4(&got.addr, "127.0.0.3", 7);
    ck_assert_int_eq(got.calls, 5); /* all synchronous */
    assert_v4(&res.map[0].addr, "127.0.0.1", 0);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_NOWAIT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* "127.1" is no literal to inet_pton but getaddrinfo reads it as 127.0.0.1
 * without /etc/hosts or DNS: the system-resolver path, hermetically. */
START_TEST(test_resolve_system_path)
{
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    struct resolve_req req;
    ck_assert_int_eq(resolve_start(&res, &loop, &req, "127.1", 1234, on_resolve, &got), 0);
    ck_assert_int_eq(got.calls, 0); /* through the resolver: later, from the loop */
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(got.calls, 1);
    ck_assert_int_eq(got.status, 0);
    ck_assert(got.have_addr);
    assert_v4(&got.addr, "127.0.0.1", 1234);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(test_resolve_invalid_tld)
{
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    struct resolve_req req;
    ck_assert_int_eq(resolve_start(&res, &loop, &req, "no-such-host.invalid", 80, on_resolve, &got),
                     0);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(got.calls, 1);
    ck_assert_int_lt(got.status, 0);
    ck_assert(!got.have_addr);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ================= suite ================= */

Suite *misc_suite(void)
{
    Suite *s = suite_create("misc");
    TCase *tc = tcase_create("words");
    tcase_add_test(tc, test_words_split_basic);
    tcase_add_test(tc, test_words_split_quoted);
    tcase_add_test(tc, test_words_split_empty);
    tcase_add_test(tc, test_words_split_bad);
    tcase_add_test(tc, test_words_split_max);
    tcase_add_test(tc, test_words_quote_exact);
    tcase_add_test(tc, test_words_round_trip);
    tcase_add_test(tc, test_words_quote_too_small);
    tcase_add_test(tc, test_words_quote_empty_word_bounds);
    suite_add_tcase(s, tc);

    tc = tcase_create("json");
    tcase_add_test(tc, test_json_basic);
    tcase_add_test(tc, test_json_empty);
    tcase_add_test(tc, test_json_int_range);
    tcase_add_test(tc, test_json_escaping);
    tcase_add_test(tc, test_json_overflow_every_size);
    tcase_add_test(tc, test_json_tiny_buffer);
    tcase_add_test(tc, test_json_size_one_in_bounds);
    suite_add_tcase(s, tc);

    tc = tcase_create("kvfile");
    tcase_add_unchecked_fixture(tc, kv_setup, kv_teardown);
    tcase_add_test(tc, test_kv_round_trip);
    tcase_add_test(tc, test_kv_save_replaces);
    tcase_add_test(tc, test_kv_missing_file);
    tcase_add_test(tc, test_kv_comments_and_blanks);
    tcase_add_test(tc, test_kv_malformed_line);
    tcase_add_test(tc, test_kv_long_comment_line);
    tcase_add_test(tc, test_kv_invalid_keys);
    tcase_add_test(tc, test_kv_invalid_values);
    tcase_add_test(tc, test_kv_full);
    tcase_add_test(tc, test_kv_get_int);
    tcase_add_test(tc, test_kv_save_failure_no_tmp);
    suite_add_tcase(s, tc);

    tc = tcase_create("urc");
    tcase_add_test(tc, test_urc_order);
    tcase_add_test(tc, test_urc_limit);
    tcase_add_test(tc, test_urc_clear);
    tcase_add_test(tc, test_urc_text_max);
    tcase_add_test(tc, test_urc_wire);
    tcase_add_test(tc, test_urc_wire_size_zero);
    suite_add_tcase(s, tc);

    tc = tcase_create("clock");
    tcase_add_test(tc, test_clk_parse);
    tcase_add_test(tc, test_clk_parse_invalid);
    tcase_add_test(tc, test_clk_scale_rounding);
    tcase_add_test(tc, test_clk_describe);
    suite_add_tcase(s, tc);

    tc = tcase_create("resolve");
    tcase_add_checked_fixture(tc, res_setup, NULL);
    tcase_add_test(tc, test_resolve_add_valid);
    tcase_add_test(tc, test_resolve_add_invalid);
    tcase_add_test(tc, test_resolve_add_limits);
    tcase_add_test(tc, test_resolve_override_sync);
    tcase_add_test(tc, test_resolve_add_ports);
    tcase_add_test(tc, test_resolve_add_ports_invalid);
    tcase_add_test(tc, test_resolve_ports_lookup);
    tcase_add_test(tc, test_resolve_literal_sync);
    tcase_add_test(tc, test_resolve_system_path);
    tcase_add_test(tc, test_resolve_invalid_tld);
    suite_add_tcase(s, tc);
    return s;
}
