#include "api/mailer.h"

#include <errno.h>
#include <stddef.h>
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

int mailer_base_url(const char *public_url, const char *local_url, char *out, size_t cap)
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
    if (!local_url || !*local_url) return 0;
    size_t n = strlen(local_url);
    if (n >= cap) return -ENAMETOOLONG;
    memcpy(out, local_url, n + 1);
    return 0;
}
