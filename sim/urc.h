/* The one queue every unsolicited line goes through. The module pushes; the
 * queue is flushed only while no command is being answered, so a URC never
 * lands inside a response. */
#ifndef BCSIM_URC_H
#define BCSIM_URC_H

#include <stdbool.h>
#include <stddef.h>

#define URC_QUEUE_MAX 256
#define URC_TEXT_MAX  512

enum urc_framing {
    URC_FRAMED, /* <CR><LF>text<CR><LF>, as the AT dialect frames URCs */
    URC_RAW     /* text<CR><LF>, as the boot ROM prints */
};

struct urc {
    struct urc *next;
    enum urc_framing framing;
    size_t len;
    char text[];
};

struct urc_queue {
    struct urc *head, *tail;
    size_t count;
    unsigned long dropped;
};

/* Returns 0, or -ENOSPC when the queue is full (the oldest line is kept). */
int urc_push(struct urc_queue *q, enum urc_framing framing, const char *text);
struct urc *urc_pop(struct urc_queue *q); /* caller frees */
void urc_clear(struct urc_queue *q);

/* Formats the line as it goes on the wire; returns its length. */
size_t urc_wire(const struct urc *u, char *buf, size_t size);

#endif
