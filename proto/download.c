#include "proto/download.h"

const char *dl_strerror(enum dl_error err)
{
    switch (err) {
    case DL_OK:
        return "ok";
    case DL_EDNS:
        return "host name does not resolve";
    case DL_ECONNECT:
        return "cannot connect";
    case DL_ERESET:
        return "connection reset before the end";
    case DL_ETIMEOUT:
        return "timed out";
    case DL_ESTATUS:
        return "server answered with an error status";
    case DL_ESHORT:
        return "body shorter than announced";
    case DL_ELONG:
        return "body longer than announced";
    case DL_EPROTO:
        return "malformed response";
    case DL_ESINK:
        return "download refused by its consumer";
    case DL_EABORT:
        return "aborted";
    }
    return "unknown download error";
}
