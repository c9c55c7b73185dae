/* mailer: how the server sends mail to users (today only password-reset links). A mailer is a
 * named implementation chosen by NOVA_MAIL. The built-in "log" mailer writes the message to
 * the server log instead of sending it, which suits development and tests; a real transport
 * (SMTP, an HTTP mail API) is added as another entry with the same send signature. */
#ifndef NOVA_API_MAILER_H
#define NOVA_API_MAILER_H

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

#endif
