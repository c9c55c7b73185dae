/* db_result: status mapping and read access to query results. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"

const char *db_status_name(int status)
{
    switch (status) {
    case DB_OK:
        return "ok";
    case DB_E_QUERY:
        return "query";
    case DB_E_BUSY:
        return "busy";
    case DB_E_TIMEOUT:
        return "timeout";
    case DB_E_CANCELLED:
        return "cancelled";
    case DB_E_UNAVAILABLE:
        return "unavailable";
    case DB_E_CLOSED:
        return "closed";
    default:
        return "other";
    }
}

/* Which DB_E_* a server or libpq answer means. Timeouts (57014 query_canceled, which is what
 * statement_timeout raises, and 25P03 idle-in-transaction timeout) are DB_E_TIMEOUT; connection
 * exceptions (class 08), shutdowns (57P01..57P03) and answers on a dead connection are
 * DB_E_UNAVAILABLE, because retrying later is the right reaction to all of them. */
int db__status_from_pg(PGconn *conn, const PGresult *pg)
{
    if (!pg) return DB_E_UNAVAILABLE;
    switch (PQresultStatus(pg)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
        return DB_OK;
    case PGRES_PIPELINE_ABORTED:
        return DB_E_QUERY;
    default:
        break;
    }
    const char *st = PQresultErrorField(pg, PG_DIAG_SQLSTATE);
    if (st && (strcmp(st, "57014") == 0 || strcmp(st, "25P03") == 0)) return DB_E_TIMEOUT;
    if (st && (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 ||
               strcmp(st, "57P03") == 0))
        return DB_E_UNAVAILABLE;
    if (conn && PQstatus(conn) == CONNECTION_BAD) return DB_E_UNAVAILABLE;
    if (!st) return DB_E_UNAVAILABLE; /* libpq-generated: lost connection or protocol trouble */
    return DB_E_QUERY;
}

void db__result_set(db_result_t *res, int status, PGresult *pg, const char *message)
{
    res->status = status;
    res->pg = pg;
    res->sqlstate[0] = '\0';
    res->message = message ? message : "";
    if (pg) {
        const char *st = PQresultErrorField(pg, PG_DIAG_SQLSTATE);
        if (st) {
            strncpy(res->sqlstate, st, sizeof res->sqlstate - 1);
            res->sqlstate[sizeof res->sqlstate - 1] = '\0';
        }
        if (status != DB_OK && !message) res->message = PQresultErrorMessage(pg);
    }
    if (status != DB_OK && res->message[0] == '\0') res->message = db_status_name(status);
}

int db_result_status(const db_result_t *res)
{
    return res->status;
}

const char *db_result_sqlstate(const db_result_t *res)
{
    return res->sqlstate;
}

const char *db_result_error(const db_result_t *res)
{
    return res->status == DB_OK ? "" : res->message;
}

int db_result_nrows(const db_result_t *res)
{
    return res->pg && res->status == DB_OK ? PQntuples(res->pg) : 0;
}

int db_result_ncols(const db_result_t *res)
{
    return res->pg && res->status == DB_OK ? PQnfields(res->pg) : 0;
}

int db_result_col(const db_result_t *res, const char *name)
{
    if (!res->pg || res->status != DB_OK || !name) return -1;
    /* PQfnumber folds unquoted names to lower case; we want exact column labels. */
    int n = PQnfields(res->pg);
    for (int i = 0; i < n; i++)
        if (strcmp(PQfname(res->pg, i), name) == 0) return i;
    return -1;
}

static bool in_range(const db_result_t *res, int row, int col)
{
    return res->pg && res->status == DB_OK && row >= 0 && col >= 0 && row < PQntuples(res->pg) &&
           col < PQnfields(res->pg);
}

const char *db_result_get(const db_result_t *res, int row, int col)
{
    if (!in_range(res, row, col) || PQgetisnull(res->pg, row, col)) return NULL;
    return PQgetvalue(res->pg, row, col);
}

const char *db_result_get_by_name(const db_result_t *res, int row, const char *name)
{
    return db_result_get(res, row, db_result_col(res, name));
}

bool db_result_is_null(const db_result_t *res, int row, int col)
{
    return !in_range(res, row, col) || PQgetisnull(res->pg, row, col);
}

int db_result_int(const db_result_t *res, int row, const char *name, int fallback)
{
    const char *v = db_result_get_by_name(res, row, name);
    if (!v || !*v) return fallback;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < INT_MIN || n > INT_MAX) return fallback;
    return (int)n;
}

long long db_result_affected(const db_result_t *res)
{
    if (!res->pg || res->status != DB_OK) return -1;
    const char *s = PQcmdTuples(res->pg);
    if (!s || !*s) return -1;
    return strtoll(s, NULL, 10);
}

void db_result_take(db_result_t *res)
{
    res->taken = true;
}

void db_result_free(db_result_t *res)
{
    if (!res) return;
    /* The result is embedded in its query; freeing one frees both. */
    db_query_t *q = (db_query_t *)((char *)res - offsetof(db_query_t, res));
    db__query_free(q);
}
