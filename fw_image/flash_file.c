#include "fw_image/flash_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int flash_file_open(struct flash_file *ff, const char *path, const struct flash_geometry *geo,
                    bool recreate)
{
    memset(ff, 0, sizeof *ff);
    ff->fd = -1;
    if (flash_geometry_check(geo) != 0)
        return -EINVAL;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0)
        goto fail_errno;
    bool fresh = st.st_size == 0 || (recreate && st.st_size != (off_t)geo->total_size);
    if (!fresh && st.st_size != (off_t)geo->total_size) {
        close(fd);
        return -EINVAL; /* someone else's file, or another model's flash */
    }
    if (fresh && ftruncate(fd, geo->total_size) != 0)
        goto fail_errno;
    uint8_t *mem = mmap(NULL, geo->total_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED)
        goto fail_errno;
    if (fresh)
        memset(mem, 0xff, geo->total_size); /* a new chip comes erased */
    ff->erase_count = calloc(geo->total_size / geo->sector_size, sizeof *ff->erase_count);
    if (!ff->erase_count) {
        munmap(mem, geo->total_size);
        close(fd);
        return -ENOMEM;
    }
    flash_init(&ff->flash, mem, geo, ff->erase_count);
    ff->fd = fd;
    ff->created = fresh;
    return 0;
fail_errno:;
    int err = -errno;
    close(fd);
    return err;
}

void flash_file_close(struct flash_file *ff)
{
    if (ff->fd < 0)
        return;
    munmap(ff->flash.mem, ff->flash.geo.total_size);
    close(ff->fd);
    free(ff->erase_count);
    ff->fd = -1;
}
