/* Byte stream -> command lines, as the UART of the module frames them:
 * <CR> ends a line, a lone <LF> is ignored, backspace edits, other control
 * bytes are dropped, and a line longer than AT_LINE_MAX is discarded whole. */
#ifndef BCSIM_AT_FRAME_H
#define BCSIM_AT_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AT_LINE_MAX 4096

enum at_frame_result {
    AT_FRAME_MORE,    /* byte consumed, no line yet */
    AT_FRAME_LINE,    /* a line ended: f->line, f->len, valid until the next byte */
    AT_FRAME_OVERLONG /* an overlong line ended; its text is gone */
};

struct at_frame {
    char line[AT_LINE_MAX + 1];
    size_t len;
    bool overlong;
    bool complete; /* line holds a finished line until the next byte */
};

void at_frame_reset(struct at_frame *f);
enum at_frame_result at_frame_byte(struct at_frame *f, uint8_t c);

#endif
