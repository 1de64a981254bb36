/* Run directories. See scn_dir.h. */
#include "tools/scenario/scn_dir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int scn_dir_make(char *dir, const char *parent, const char *prefix)
{
    const char *tmp = parent ? parent : getenv("TMPDIR");
    if (!tmp || !*tmp || strlen(tmp) + strlen(prefix) + 9 > SCN_DIR_MAX)
        tmp = "/tmp"; /* a TMPDIR too long: a short path under /tmp */
    snprintf(dir, SCN_DIR_MAX, "%s/%s-XXXXXX", tmp, prefix);
    if (mkdtemp(dir))
        return 0;
    dir[0] = '\0';
    return -1;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

void scn_dir_remove(const char *dir)
{
    if (dir[0])
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
