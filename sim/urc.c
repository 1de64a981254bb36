#include "sim/urc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int urc_push(struct urc_queue *q, enum urc_framing framing, const char *text)
{
    size_t len = strnlen(text, URC_TEXT_MAX);
    if (q->count == URC_QUEUE_MAX) {
        q->dropped++;
        return -ENOSPC;
    }
    struct urc *u = malloc(sizeof *u + len + 1);
    if (!u) {
        q->dropped++;
        return -ENOMEM;
    }
    u->next = NULL;
    u->framing = framing;
    u->len = len;
    memcpy(u->text, text, len);
    u->text[len] = '\0';
    if (q->tail)
        q->tail->next = u;
    else
        q->head = u;
    q->tail = u;
    q->count++;
    return 0;
}

struct urc *urc_pop(struct urc_queue *q)
{
    struct urc *u = q->head;
    if (!u)
        return NULL;
    q->head = u->next;
    if (!q->head)
        q->tail = NULL;
    q->count--;
    return u;
}

void urc_clear(struct urc_queue *q)
{
    struct urc *u;
    while ((u = urc_pop(q)))
        free(u);
}

size_t urc_wire(const struct urc *u, char *buf, size_t size)
{
    if (size == 0)
        return 0;
    int n = u->framing == URC_FRAMED ? snprintf(buf, size, "\r\n%s\r\n", u->text)
                                     : snprintf(buf, size, "%s\r\n", u->text);
    return n < 0 ? 0 : ((size_t)n < size ? (size_t)n : size - 1);
}
