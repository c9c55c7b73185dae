#include "api/mailer.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"

/* Writes the message to the log. The link carries a one-time secret: that is the point of this
 * mailer (an operator or a test picks it up there), so it is written only at info level and only
 * by this mailer; production deployments configure a real transport. The address is not logged. */
static int mailer__log_send(const mailer_msg_t *msg)
{
    log_info("mail", "mail to user %lld: %s: %s", (long long)msg->user_id,
             msg->subject ? msg->subject : "", msg->link ? msg->link : "");
    return 0;
}

static const mailer_t mailer__all[] = {
    {"log", mailer__log_send},
};

const mailer_t *mailer_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof mailer__all / sizeof mailer__all[0]; i++)
        if (strcmp(mailer__all[i].name, name) == 0) return &mailer__all[i];
    return NULL;
}

/* host and port of the first entry of a NOVA_LISTEN list, as a URL authority: "127.0.0.1:8000",
 * "[::1]:8000". False when the entry does not look like host:port. */
static bool mailer__listen_authority(const char *listen, char *out, size_t cap)
{
    while (*listen == ' ')
        listen++;
    size_t n = strcspn(listen, ",");
    while (n && listen[n - 1] == ' ')
        n--;
    const char *colon = NULL;
    char host[128];
    size_t hlen;
    if (n && listen[0] == '[') {
        const char *close = memchr(listen, ']', n);
        if (!close || close + 1 >= listen + n || close[1] != ':') return false;
        hlen = (size_t)(close - listen - 1);
        if (hlen >= sizeof host) return false;
        memcpy(host, listen + 1, hlen);
        colon = close + 1;
    } else {
        for (size_t i = 0; i < n; i++)
            if (listen[i] == ':') colon = listen + i;
        if (!colon) return false;
        hlen = (size_t)(colon - listen);
        if (hlen >= sizeof host) return false;
        memcpy(host, listen, hlen);
    }
    host[hlen] = '\0';
    const char *port = colon + 1;
    size_t plen = (size_t)(listen + n - port);
    if (plen == 0 || plen > 5 || strspn(port, "0123456789") < plen) return false;
    if (plen == 1 && port[0] == '0') return false; /* an ephemeral port is unknown here */
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)host[i];
        if (!isalnum(c) && !strchr(".-:", c)) return false;
    }
    bool v6 = strchr(host, ':') != NULL;
    /* A wildcard address accepts connections on every interface; loopback is one of them. */
    const char *h = host;
    if (hlen == 0 || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0) h = "127.0.0.1";
    if (v6 && (strcmp(host, "::") == 0 || strcmp(host, "::0") == 0)) h = "::1";
    v6 = strchr(h, ':') != NULL;
    int w = snprintf(out, cap, "%s%s%s:%.*s", v6 ? "[" : "", h, v6 ? "]" : "", (int)plen, port);
    return w > 0 && (size_t)w < cap;
}

int mailer_base_url(const char *public_url, const char *listen, char *out, size_t cap)
{
    if (cap == 0) return -ENAMETOOLONG;
    out[0] = '\0';
    if (public_url && *public_url) {
        size_t n = strlen(public_url);
        while (n && public_url[n - 1] == '/')
            n--;
        if (n >= cap) return -ENAMETOOLONG;
        memcpy(out, public_url, n);
        out[n] = '\0';
        return 0;
    }
    char auth[160];
    if (!listen || !mailer__listen_authority(listen, auth, sizeof auth)) return 0;
    int w = snprintf(out, cap, "http://%s", auth);
    if (w < 0 || (size_t)w >= cap) {
        out[0] = '\0';
        return -ENAMETOOLONG;
    }
    return 0;
}
