#include "tools/upload/serial.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <termios.h>
#include <unistd.h>

static const struct {
    unsigned baud;
    speed_t speed;
} rates[] = {
    {9600, B9600},     {19200, B19200},   {38400, B38400},   {57600, B57600},
    {115200, B115200}, {230400, B230400}, {460800, B460800}, {921600, B921600},
};

static bool speed_of(unsigned baud, speed_t *out)
{
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        if (rates[i].baud == baud) {
            *out = rates[i].speed;
            return true;
        }
    return false;
}

bool upl_serial_baud_ok(unsigned baud)
{
    speed_t s;
    return speed_of(baud, &s);
}

int upl_serial_open(const char *path, unsigned baud)
{
    speed_t speed;
    if (!speed_of(baud, &speed)) {
        errno = EINVAL;
        return -1;
    }
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct termios t;
    if (tcgetattr(fd, &t) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD; /* no modem lines: a 3-wire UART */
    t.c_cflag &= ~(tcflag_t)CRTSCTS;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (cfsetispeed(&t, speed) != 0 || cfsetospeed(&t, speed) != 0 ||
        tcsetattr(fd, TCSANOW, &t) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    /* Whatever the module said before we came (a boot banner) is not an
     * answer to anything we send. */
    tcflush(fd, TCIFLUSH);
    return fd;
}
