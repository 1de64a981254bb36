#include "sim/at/at_frame.h"

#define CR  0x0d
#define LF  0x0a
#define BS  0x08
#define DEL 0x7f

void at_frame_reset(struct at_frame *f)
{
    f->len = 0;
    f->overlong = false;
    f->complete = false;
    f->line[0] = '\0';
}

enum at_frame_result at_frame_byte(struct at_frame *f, uint8_t c)
{
    if (f->complete) /* the previous line was handed out; start the next */
        at_frame_reset(f);
    if (c == CR) {
        enum at_frame_result r = f->overlong ? AT_FRAME_OVERLONG : AT_FRAME_LINE;
        if (f->overlong)
            f->len = 0;
        f->line[f->len] = '\0';
        f->complete = true;
        return r;
    }
    if (f->overlong)
        return AT_FRAME_MORE;
    if (c == BS || c == DEL) {
        if (f->len > 0)
            f->len--;
        return AT_FRAME_MORE;
    }
    if (c < 0x20 && c != '\t')
        return AT_FRAME_MORE; /* <LF> and stray control bytes */
    if (f->len == AT_LINE_MAX) {
        f->overlong = true;
        f->len = 0;
        return AT_FRAME_MORE;
    }
    f->line[f->len++] = (char)c;
    return AT_FRAME_MORE;
}
