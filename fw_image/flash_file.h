/* The flash model kept in a file (POSIX): mapped shared, so every program and
 * erase is in the file the moment it returns, in the order it happened, and a
 * kill -9 of the process is an honest power cut. */
#ifndef BCSIM_FLASH_FILE_H
#define BCSIM_FLASH_FILE_H

#include "fw_image/flash.h"

#include <stdbool.h>

struct flash_file {
    struct flash flash;
    int fd;
    uint32_t *erase_count;
    bool created; /* the file did not exist (or had the wrong size): all erased */
};

/* Opens or creates `path` with the geometry's size. A file of another size is
 * refused (-EINVAL) unless `recreate`. Returns 0 or a negative errno. */
int flash_file_open(struct flash_file *ff, const char *path, const struct flash_geometry *geo,
                    bool recreate);
void flash_file_close(struct flash_file *ff);

#endif
