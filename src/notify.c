/* Readiness and status messages to systemd (the sd_notify protocol). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

void notify_systemd(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un address;
    socklen_t address_length;
    size_t path_length;
    int fd;

    if (path == NULL || path[0] == '\0') {
        return;
    }
    path_length = strlen(path);
    if ((path[0] != '/' && path[0] != '@') ||
        path_length >= sizeof(address.sun_path)) {
        log_event(LOG_LEVEL_WARNING, "notify_failed",
                  "error=\"NOTIFY_SOCKET is not a usable socket path\"");
        return;
    }

    memset(&address, 0, sizeof(address));
    address.sun_family = AF_UNIX;
    memcpy(address.sun_path, path, path_length);
    if (path[0] == '@') {
        address.sun_path[0] = '\0'; /* abstract namespace */
    }
    address_length =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_length);

    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, state, strlen(state), MSG_NOSIGNAL,
                         (struct sockaddr *)&address, address_length) < 0) {
        log_event(LOG_LEVEL_WARNING, "notify_failed", "state=%s error=\"%s\"",
                  state, strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
    }
}
