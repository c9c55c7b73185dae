/* Fuzz target: arbitrary bytes from a client through the real connection code (llhttp glue,
 * limits, router, handlers, responses) over a socketpair, on a real libuv loop. Every input must
 * end with the connection closed and nothing leaked; a connection that never closes aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "api/app.h"
#include "core/config.h"
#include "core/log.h"
#include "http/server.h"

static uv_loop_t fz_loop;
static config_t fz_cfg;
static app_t fz_app;
static http_server_t *fz_srv;

static void fz_init(void)
{
    char err[256];
    setenv("NOVA_MAX_HEADER_BYTES", "4096", 1);
    setenv("NOVA_MAX_BODY_BYTES", "4096", 1);
    setenv("NOVA_MAX_URI_BYTES", "512", 1);
    setenv("NOVA_BENCH_ROUTES", "1", 1);
    if (config_load(&fz_cfg, err, sizeof err) != 0) abort();
    log_set_level(LOG_LEVEL_ERROR);
    uv_loop_init(&fz_loop);
    fz_app.loop = &fz_loop;
    fz_app.cfg = &fz_cfg;
    fz_srv = http_server_new(&fz_loop, &fz_cfg, &fz_app);
    fz_app.http = fz_srv;
    if (!fz_srv || api_routes_register(fz_srv, &fz_cfg) != 0) abort();
}

static void fz_drain(int fd)
{
    char buf[65536];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_srv) fz_init();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) abort();
    if (http_server_adopt(fz_srv, sv[0]) != 0) abort();
    size_t off = 0;
    int spins = 0;
    while (off < size) {
        ssize_t n = write(sv[1], data + off, size - off);
        if (n > 0) off += (size_t)n;
        uv_run(&fz_loop, UV_RUN_NOWAIT);
        fz_drain(sv[1]);
        if (http_server_connections(fz_srv) == 0) break; /* the server gave up on this client */
        if (++spins > 100000) abort();
    }
    shutdown(sv[1], SHUT_WR);
    /* The bench sleep route may hold a request for its delay; everything else is immediate. */
    for (spins = 0; http_server_connections(fz_srv) > 0; spins++) {
        uv_run(&fz_loop, UV_RUN_ONCE);
        fz_drain(sv[1]);
        if (spins > 1000000) abort();
    }
    close(sv[1]);
    return 0;
}
