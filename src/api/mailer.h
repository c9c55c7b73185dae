/* mailer: how the server sends mail to users (today only password-reset links). A mailer is a
 * named implementation chosen by NOVA_MAIL. The built-in "log" mailer writes the message to
 * the server log instead of sending it, which suits development and tests; a real transport
 * (SMTP, an HTTP mail API) is added as another entry with the same send signature. */
#ifndef NOVA_API_MAILER_H
#define NOVA_API_MAILER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t user_id; /* for the log; 0 when not about a user */
    const char *to;  /* recipient address */
    const char *subject;
    const char *text; /* plain-text body */
    const char *link; /* the action link inside the body, if any */
} mailer_msg_t;

typedef struct {
    const char *name;
    /* Queues or sends the message without blocking the loop. Returns 0 or a negative errno. */
    int (*send)(const mailer_msg_t *msg);
} mailer_t;

/* The mailer called `name` ("log"), or NULL when there is none by that name. */
const mailer_t *mailer_find(const char *name);

/* Writes the base URL for links in mail (no trailing '/') into out. Links in mail must never
 * come from a request (its Host header is the requester's choice, and a password-reset link
 * built from it would hand the victim's token to the requester's host), so the base comes from
 * the configuration only: public_url (NOVA_PUBLIC_URL) when set, else local_url, the server's own
 * first listen address (http_server_local_url), which suits the log mailer in development. When
 * neither is set, out is "" and links are relative paths. Returns 0, or -ENAMETOOLONG when out is
 * too small (out is then ""). */
int mailer_base_url(const char *public_url, const char *local_url, char *out, size_t cap);

#endif
