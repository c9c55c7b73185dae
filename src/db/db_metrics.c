/* db_metrics: counters kept by the pool and their Prometheus text rendering. */
#include <string.h>

#include "db/db_internal.h"

/* Upper bounds in seconds; the histogram has one more (+Inf) bucket. */
static const double bounds[DB_HIST_N] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10,   30};

static const int kinds[] = {DB_E_QUERY,     DB_E_BUSY,        DB_E_TIMEOUT,
                            DB_E_CANCELLED, DB_E_UNAVAILABLE, DB_E_CLOSED};

void db__metrics_record(db_pool_t *pool, const db_query_t *q)
{
    db_metrics_t *m = &pool->m;
    double s = (double)(uv_hrtime() - q->t_start_ns) / 1e9;
    int i = 0;
    while (i < DB_HIST_N && s > bounds[i])
        i++;
    m->hist[i]++;
    m->sum_s += s;
    m->count++;
    /* A request whose caller cancelled it while it was in flight is counted as cancelled,
     * whatever PostgreSQL answered (a server-side cancel answers 57014, which would otherwise
     * look like a timeout). */
    int status = q->cancelled ? DB_E_CANCELLED : q->res.status;
    if (status == DB_OK) return;
    int k = -status - 1001;
    if (k >= 0 && k < DB_KINDS) m->by_kind[k]++;
    if (q->res.sqlstate[0] && !q->cancelled) {
        for (int j = 0; j < m->n_sqlclass; j++) {
            if (memcmp(m->sqlclass[j].cls, q->res.sqlstate, 2) == 0) {
                m->sqlclass[j].n++;
                return;
            }
        }
        if (m->n_sqlclass < DB_SQLCLASS_MAX) {
            memcpy(m->sqlclass[m->n_sqlclass].cls, q->res.sqlstate, 2);
            m->sqlclass[m->n_sqlclass].cls[2] = '\0';
            m->sqlclass[m->n_sqlclass++].n = 1;
        }
    }
}

static void gauge(buf_t *out, const char *name, const char *help, double v)
{
    buf_printf(out, "# HELP nova_db_%s %s\n# TYPE nova_db_%s gauge\nnova_db_%s %g\n", name, help,
               name, name, v);
}

static void counter(buf_t *out, const char *name, const char *help, uint64_t v)
{
    buf_printf(out, "# HELP nova_db_%s %s\n# TYPE nova_db_%s counter\nnova_db_%s %llu\n", name,
               help, name, name, (unsigned long long)v);
}

void db_pool_metrics_write(db_pool_t *pool, buf_t *out)
{
    const db_metrics_t *m = &pool->m;
    int open = 0, in_use = 0;
    size_t inflight = 0;
    for (int i = 0; i < pool->nconns; i++) {
        const db_conn_t *c = &pool->conns[i];
        if (c->state != DBC_READY) continue;
        open++;
        if (c->fifo.n > 0 || c->tx) in_use++;
        inflight += c->fifo.n;
    }
    gauge(out, "ready", "1 when at least one database connection is up.", pool->n_ready > 0);
    gauge(out, "pool_size", "Configured number of query connections.", pool->nconns);
    gauge(out, "connections_open", "Query connections that are up.", open);
    gauge(out, "connections_in_use", "Connections with queries in flight or a transaction.",
          in_use);
    gauge(out, "listen_connection_up", "1 when the LISTEN connection is up.",
          pool->listener && pool->listener->state == DBC_READY);
    gauge(out, "waiters", "Requests waiting for a connection.", (double)pool->waiters.n);
    gauge(out, "queries_in_flight", "Queries sent and not yet answered.", (double)inflight);

    buf_printf(out, "# HELP nova_db_query_duration_seconds Time from submission to result.\n"
                    "# TYPE nova_db_query_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < DB_HIST_N; i++) {
        cum += m->hist[i];
        buf_printf(out, "nova_db_query_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[i],
                   (unsigned long long)cum);
    }
    cum += m->hist[DB_HIST_N];
    buf_printf(out, "nova_db_query_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
               (unsigned long long)cum);
    buf_printf(out, "nova_db_query_duration_seconds_sum %.6f\n", m->sum_s);
    buf_printf(out, "nova_db_query_duration_seconds_count %llu\n", (unsigned long long)m->count);

    buf_printf(out, "# HELP nova_db_errors_total Failed requests by kind.\n"
                    "# TYPE nova_db_errors_total counter\n");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        buf_printf(out, "nova_db_errors_total{kind=\"%s\"} %llu\n", db_status_name(kinds[i]),
                   (unsigned long long)m->by_kind[-kinds[i] - 1001]);
    buf_printf(out, "# HELP nova_db_sqlstate_errors_total Server errors by SQLSTATE class.\n"
                    "# TYPE nova_db_sqlstate_errors_total counter\n");
    for (int i = 0; i < m->n_sqlclass; i++)
        buf_printf(out, "nova_db_sqlstate_errors_total{class=\"%s\"} %llu\n", m->sqlclass[i].cls,
                   (unsigned long long)m->sqlclass[i].n);
    counter(out, "reconnects_total", "Reconnection attempts after a failure or lost connection.",
            m->reconnects);
    counter(out, "connect_failures_total", "Failed connection attempts.", m->connect_failures);
    counter(out, "client_statement_timeouts_total",
            "Connections reset because a statement outlived the client-side limit.",
            m->statement_timeouts_client);
    buf_printf(out,
               "# HELP nova_db_cancel_requests_total Requests sent to PostgreSQL to stop a "
               "running statement, by reason.\n"
               "# TYPE nova_db_cancel_requests_total counter\n"
               "nova_db_cancel_requests_total{reason=\"client_timeout\"} %llu\n"
               "nova_db_cancel_requests_total{reason=\"caller_cancelled\"} %llu\n",
               (unsigned long long)m->cancels_timeout, (unsigned long long)m->cancels_caller);
    counter(out, "cancel_requests_skipped_total",
            "Cancel requests not sent because another one was still in flight.",
            m->cancels_skipped);
    gauge(out, "cancel_in_flight", "1 while a cancel request is on its way to PostgreSQL.",
          pool->cancel_job != NULL);
}
