/* A small persistent key=value store (the module's NVRAM settings). Saving
 * writes a temporary file, syncs it and renames it over the old one, so a
 * power cut leaves either the old or the new contents, never a mix. */
#ifndef BCSIM_KVFILE_H
#define BCSIM_KVFILE_H

#include <stddef.h>

#define KV_MAX       64
#define KV_KEY_MAX   32
#define KV_VALUE_MAX 256

struct kv {
    struct {
        char key[KV_KEY_MAX];
        char value[KV_VALUE_MAX];
    } items[KV_MAX];
    int n;
};

/* Loads a file; a missing file gives an empty store. Returns 0 or a negative
 * errno; on a malformed line, -EINVAL and *bad_line tells which. */
int kv_load(struct kv *kv, const char *path, int *bad_line);
int kv_save(const struct kv *kv, const char *path);

const char *kv_get(const struct kv *kv, const char *key);
int kv_get_int(const struct kv *kv, const char *key, int fallback);
int kv_set(struct kv *kv, const char *key, const char *value); /* 0, -EINVAL, -ENOSPC */
int kv_set_int(struct kv *kv, const char *key, long value);
void kv_remove(struct kv *kv, const char *key);

#endif
