/* sse_client: the reading side of the SSE fan-out benchmark (compiled by tools/bench.d/sse.sh).
 * Opens N event streams of one user with an epoll loop, and for every event carrying
 * "t": <unix seconds> records its arrival time minus t. Prints p50/p99/max in ms as JSON.
 *   sse_client PORT TOKEN STREAMS EXPECTED_EVENTS TIMEOUT_S */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 6) return 2;
    int port = atoi(argv[1]), n = atoi(argv[3]);
    long expected = atol(argv[4]);
    double timeout = atof(argv[5]);
    char req[512];
    int rl = snprintf(req, sizeof req,
                      "GET /api/events/ HTTP/1.1\r\nHost: b\r\nAuthorization: Token %s\r\n\r\n",
                      argv[2]);
    int ep = epoll_create1(0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return 3;
        if (write(fd, req, (size_t)rl) != rl) return 3;
        fcntl(fd, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        if (i % 200 == 199) usleep(20000);
    }
    printf("{\"ready\":true}\n");
    fflush(stdout);
    double *lat = calloc((size_t)expected + 1, sizeof *lat);
    long got = 0;
    double deadline = now_s() + timeout;
    static char buf[1 << 16];
    struct epoll_event evs[256];
    while (got < expected && now_s() < deadline) {
        int k = epoll_wait(ep, evs, 256, 200);
        for (int i = 0; i < k; i++) {
            ssize_t r = read(evs[i].data.fd, buf, sizeof buf - 1);
            double t = now_s();
            if (r <= 0) {
                if (r == 0) epoll_ctl(ep, EPOLL_CTL_DEL, evs[i].data.fd, NULL);
                continue;
            }
            buf[r] = '\0';
            /* Events are small and arrive whole in one read on loopback. */
            for (char *p = buf; (p = strstr(p, "\"t\": ")) != NULL; p += 5)
                if (got < expected) lat[got++] = t - strtod(p + 5, NULL);
        }
    }
    qsort(lat, (size_t)got, sizeof *lat, cmp);
    double p50 = got ? lat[got / 2] : -1, p99 = got ? lat[(long)(got * 0.99)] : -1,
           mx = got ? lat[got - 1] : -1;
    printf(
        "{\"deliveries\":%ld,\"expected\":%ld,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f}\n",
        got, expected, p50 * 1000, p99 * 1000, mx * 1000);
    return 0;
}
