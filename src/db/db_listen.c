/* db_listen: LISTEN/NOTIFY. One dedicated connection per pool (pool connections are shared,
 * so a LISTEN there would be lost on every reconnect and could starve queries), opened on the
 * first subscription, re-subscribed after every reconnect. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "db/db_internal.h"

typedef struct {
    db_pool_t *pool;
    unsigned gen;
    char channel[64];
} listen_ctx_t;

static bool valid_channel(const char *ch)
{
    size_t n = ch ? strlen(ch) : 0;
    if (n == 0 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        char c = ch[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

static void sweep(db_pool_t *pool)
{
    for (db_sub_t **pp = &pool->subs; *pp;) {
        db_sub_t *s = *pp;
        if (s->removed) {
            *pp = s->next;
            free(s);
        } else {
            pp = &s->next;
        }
    }
}

static void on_listen_done(db_result_t *res, void *arg)
{
    listen_ctx_t *ctx = arg;
    db_pool_t *pool = ctx->pool;
    if (res->status != DB_OK) {
        if (res->status != DB_E_CLOSED)
            log_warn("db", "LISTEN %s failed: %s", ctx->channel, db_result_error(res));
        free(ctx);
        return;
    }
    /* Subscribers confirmed on an earlier connection may have missed notifications while it
     * was down: tell them (payload NULL) so they re-read their state. */
    pool->notify_depth++;
    for (db_sub_t *s = pool->subs; s && !pool->closing; s = s->next) {
        if (s->removed || strcmp(s->channel, ctx->channel) != 0 || s->gen == ctx->gen) continue;
        bool resync = s->gen != 0;
        s->gen = ctx->gen;
        if (resync) s->cb(s->channel, NULL, s->arg);
    }
    if (--pool->notify_depth == 0) sweep(pool);
    free(ctx);
}

/* Sends LISTEN/UNLISTEN on the listener connection. The name was validated, and is quoted
 * anyway: it is the only place where an identifier enters SQL text. */
static void send_cmd(db_conn_t *c, const char *verb, const char *channel, bool confirm)
{
    char *ident = PQescapeIdentifier(c->pg, channel, strlen(channel));
    if (!ident) return;
    char sql[200];
    snprintf(sql, sizeof sql, "%s %s", verb, ident);
    PQfreemem(ident);
    listen_ctx_t *ctx = NULL;
    if (confirm) {
        ctx = calloc(1, sizeof *ctx);
        if (!ctx) return;
        ctx->pool = c->pool;
        ctx->gen = c->gen + 1; /* never 0, which means "not confirmed yet" */
        snprintf(ctx->channel, sizeof ctx->channel, "%s", channel);
    }
    db_query_t *q = db__query_new(c->pool, sql, 0, NULL, confirm ? on_listen_done : NULL, ctx);
    if (!q) {
        free(ctx);
        return;
    }
    q->kind = DBQ_INTERNAL;
    db__conn_send(c, q);
}

static bool channel_has_other(db_pool_t *pool, const db_sub_t *self, const char *channel)
{
    for (db_sub_t *s = pool->subs; s && s != self; s = s->next)
        if (!s->removed && strcmp(s->channel, channel) == 0) return true;
    return false;
}

void db__listen_on_ready(db_conn_t *c)
{
    db_pool_t *pool = c->pool;
    unsigned gen = c->gen;
    for (db_sub_t *s = pool->subs; s && c->gen == gen && c->state == DBC_READY; s = s->next)
        if (!s->removed && !channel_has_other(pool, s, s->channel))
            send_cmd(c, "LISTEN", s->channel, true);
}

void db__listen_deliver(db_pool_t *pool, const PGnotify *n)
{
    pool->notify_depth++;
    for (db_sub_t *s = pool->subs; s && !pool->closing; s = s->next)
        if (!s->removed && strcmp(s->channel, n->relname) == 0)
            s->cb(n->relname, n->extra ? n->extra : "", s->arg);
    if (--pool->notify_depth == 0) sweep(pool);
}

void db__listen_free_all(db_pool_t *pool)
{
    while (pool->subs) {
        db_sub_t *s = pool->subs;
        pool->subs = s->next;
        free(s);
    }
}

int db_listen(db_pool_t *pool, const char *channel, db_notify_cb cb, void *arg)
{
    if (!pool || !cb || !valid_channel(channel)) return -EINVAL;
    if (pool->closing) return DB_E_CLOSED;
    db_sub_t *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    snprintf(s->channel, sizeof s->channel, "%s", channel);
    s->cb = cb;
    s->arg = arg;
    db_sub_t **pp = &pool->subs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = s;
    pool->api_depth++;
    if (!pool->listener) {
        pool->listener = malloc(sizeof *pool->listener);
        if (!pool->listener) {
            *pp = NULL;
            free(s);
            pool->api_depth--;
            return -ENOMEM;
        }
        db__conn_init(pool, pool->listener, pool->nconns, true);
        db__conn_start(pool->listener); /* subscribes everyone once connected */
    } else if (pool->listener->state == DBC_READY) {
        /* LISTEN is idempotent, so a second subscriber simply repeats it. */
        send_cmd(pool->listener, "LISTEN", channel, true);
    }
    pool->api_depth--;
    return 0;
}

int db_unlisten(db_pool_t *pool, const char *channel, db_notify_cb cb, void *arg)
{
    if (!pool || !channel) return -EINVAL;
    db_sub_t *found = NULL;
    for (db_sub_t *s = pool->subs; s; s = s->next) {
        if (!s->removed && s->cb == cb && s->arg == arg && strcmp(s->channel, channel) == 0) {
            found = s;
            break;
        }
    }
    if (!found) return -ENOENT;
    found->removed = true;
    bool others = false;
    for (db_sub_t *s = pool->subs; s; s = s->next)
        if (!s->removed && strcmp(s->channel, channel) == 0) others = true;
    pool->api_depth++;
    if (!others && pool->listener && pool->listener->state == DBC_READY && !pool->closing)
        send_cmd(pool->listener, "UNLISTEN", channel, false);
    pool->api_depth--;
    if (pool->notify_depth == 0) sweep(pool);
    return 0;
}

int db_notify(db_pool_t *pool, const char *channel, const char *payload, db_query_cb cb, void *arg)
{
    if (!valid_channel(channel)) return -EINVAL;
    const char *params[2] = {channel, payload ? payload : ""};
    return db_query(pool, "SELECT pg_notify($1, $2)", 2, params, cb, arg, NULL);
}
