/* db_migrate: blocking schema migration runner (see db_migrate.h). */
#include <ctype.h>
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <uv.h>

#include "core/log.h"
#include "db/db_migrate.h"

/* Advisory lock key: the bytes "novamigr" as a big-endian int8. */
#define LOCK_SQL       "SELECT pg_advisory_lock(7957709227406485362)"
#define UNLOCK_SQL     "SELECT pg_advisory_unlock(7957709227406485362)"
#define MAX_FILE_BYTES (64u << 20)

typedef struct {
    int version;
    char name[256]; /* file name, e.g. 0001_users.sql */
} mfile_t;

typedef struct {
    int version;
    char *name;
    char *checksum;
    bool seen;
} applied_t;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    /* libpq messages end with a newline; keep the error on one line. */
    size_t n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
    for (char *p = err; *p; p++)
        if (*p == '\n') *p = ' ';
}

/* NNNN_name.sql with name in [A-Za-z0-9_-]+. */
static bool parse_name(const char *fn, int *version)
{
    size_t n = strlen(fn);
    if (n < 10 || n >= 256 || strcmp(fn + n - 4, ".sql") != 0 || fn[4] != '_') return false;
    for (int i = 0; i < 4; i++)
        if (!isdigit((unsigned char)fn[i])) return false;
    for (size_t i = 5; i < n - 4; i++)
        if (!isalnum((unsigned char)fn[i]) && fn[i] != '_' && fn[i] != '-') return false;
    *version = (fn[0] - '0') * 1000 + (fn[1] - '0') * 100 + (fn[2] - '0') * 10 + (fn[3] - '0');
    return true;
}

static int cmp_files(const void *a, const void *b)
{
    const mfile_t *x = a, *y = b;
    return x->version - y->version;
}

static int scan_dir(const char *dir, mfile_t **out, size_t *count, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        set_err(err, errlen, "cannot open migrations directory %s: %s", dir, strerror(errno));
        return -ENOENT;
    }
    mfile_t *files = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        int v;
        if (!parse_name(e->d_name, &v)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            mfile_t *nf = realloc(files, cap * sizeof *nf);
            if (!nf) {
                rc = -ENOMEM;
                break;
            }
            files = nf;
        }
        files[n].version = v;
        snprintf(files[n].name, sizeof files[n].name, "%s", e->d_name);
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 0) {
        qsort(files, n, sizeof *files, cmp_files);
        for (size_t i = 1; i < n; i++) {
            if (files[i].version == files[i - 1].version) {
                set_err(err, errlen, "migrations %s and %s share version %04d", files[i - 1].name,
                        files[i].name, files[i].version);
                rc = -EINVAL;
                break;
            }
        }
    }
    if (rc < 0) {
        free(files);
        return rc;
    }
    *out = files;
    *count = n;
    return 0;
}

static char *read_file(const char *dir, const char *name, size_t *len, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0 || st.st_size < 0 || (size_t)st.st_size > MAX_FILE_BYTES) {
        set_err(err, errlen, "migration %s: cannot read (%s)", name,
                f ? "too large or unreadable" : strerror(errno));
        if (f) fclose(f);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf || fread(buf, 1, n, f) != n) {
        set_err(err, errlen, "migration %s: read failed", name);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        set_err(err, errlen, "migration %s: contains a NUL byte", name);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < mdlen && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
}

/* Runs a command that returns no rows; on failure fills err with `what` and the server text. */
static bool exec_ok(PGconn *conn, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
    if (!ok) set_err(err, errlen, "%s: %s", what, PQerrorMessage(conn));
    PQclear(r);
    return ok;
}

static void quiet_notice(void *arg, const char *msg)
{
    log_debug("db", "migrate: %s", msg);
}

static int load_applied(PGconn *conn, applied_t **out, size_t *count, char *err, size_t errlen)
{
    PGresult *r =
        PQexec(conn, "SELECT version, name, checksum FROM schema_migrations ORDER BY version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_err(err, errlen, "reading schema_migrations: %s", PQerrorMessage(conn));
        PQclear(r);
        return -EIO;
    }
    size_t n = (size_t)PQntuples(r);
    applied_t *a = calloc(n ? n : 1, sizeof *a);
    if (!a) {
        PQclear(r);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        a[i].version = (int)strtol(PQgetvalue(r, (int)i, 0), NULL, 10); /* integer NOT NULL */
        a[i].name = strdup(PQgetvalue(r, (int)i, 1));
        a[i].checksum = strdup(PQgetvalue(r, (int)i, 2));
    }
    PQclear(r);
    *out = a;
    *count = n;
    return 0;
}

static int apply_one(PGconn *conn, const mfile_t *f, const char *sql, const char *sum, char *err,
                     size_t errlen)
{
    uint64_t t0 = uv_hrtime();
    if (!exec_ok(conn, "BEGIN", f->name, err, errlen)) return -EIO;
    if (!exec_ok(conn, sql, f->name, err, errlen)) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return -EIO;
    }
    if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
        /* The file ended our transaction itself: its effects may already be committed. */
        set_err(err, errlen, "migration %s: must not contain BEGIN/COMMIT/ROLLBACK", f->name);
        PQclear(PQexec(conn, "ROLLBACK"));
        return -EINVAL;
    }
    char version[16];
    snprintf(version, sizeof version, "%d", f->version);
    const char *params[3] = {version, f->name, sum};
    PGresult *r = PQexecParams(conn,
                               "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
                               " VALUES ($1, $2, $3, now())",
                               3, NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        set_err(err, errlen, "migration %s: recording it failed: %s", f->name,
                PQerrorMessage(conn));
        PQclear(PQexec(conn, "ROLLBACK"));
        return -EIO;
    }
    if (!exec_ok(conn, "COMMIT", f->name, err, errlen)) return -EIO;
    log_info("db", "applied migration %s in %.1f ms", f->name, (double)(uv_hrtime() - t0) / 1e6);
    return 0;
}

/* Hashes one file; on failure err names it. */
static int file_sum(const char *sql_dir, const mfile_t *f, char sum[65], char *err, size_t errlen)
{
    size_t len = 0;
    char *sql = read_file(sql_dir, f->name, &len, err, errlen);
    if (!sql) return -EIO;
    sha256_hex(sql, len, sum);
    free(sql);
    return 0;
}

/* Records the first problem in err and logs every one, so an operator sees all of them at once
 * instead of fixing one per start-up. */
static void problem(int *nproblems, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(int *nproblems, char *err, size_t errlen, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_error("db", "%s", msg);
    if ((*nproblems)++ == 0) set_err(err, errlen, "%s", msg);
}

/* Phase 1: every migration the database has already applied must still be on disk, byte for
 * byte. This runs to completion before anything is applied, so a changed or deleted old file
 * stops start-up with the schema untouched, whatever its version is relative to new files. */
static int verify_applied(const char *sql_dir, const mfile_t *files, size_t nfiles,
                          applied_t *applied, size_t napplied, bool *pending, char *err,
                          size_t errlen)
{
    int nproblems = 0;
    size_t j = 0; /* both lists are sorted by version: walk them together */
    for (size_t i = 0; i < nfiles; i++) {
        const mfile_t *f = &files[i];
        while (j < napplied && applied[j].version < f->version)
            j++;
        pending[i] = !(j < napplied && applied[j].version == f->version);
        if (pending[i]) continue;
        applied_t *a = &applied[j];
        a->seen = true;
        char sum[65];
        int rc = file_sum(sql_dir, f, sum, err, errlen);
        if (rc < 0) return rc;
        if (strcmp(a->checksum, sum) != 0)
            problem(&nproblems, err, errlen,
                    "migration %s was modified after it was applied (checksum %.12s... "
                    "recorded, %.12s... on disk); restore it and add a new migration instead",
                    f->name, a->checksum, sum);
        else if (strcmp(a->name, f->name) != 0)
            log_warn("db", "migration %04d was applied as %s and is now named %s", f->version,
                     a->name, f->name);
    }
    /* A deleted file is refused rather than ignored: the folder would no longer describe the
     * schema, and the usual causes (a renumbered file, a build older than the database) need
     * a human decision. */
    for (size_t k = 0; k < napplied; k++)
        if (!applied[k].seen)
            problem(&nproblems, err, errlen,
                    "migration %04d (%s) is recorded as applied but its file is missing from %s; "
                    "restore it (applied migrations must never be deleted or renumbered)",
                    applied[k].version, applied[k].name, sql_dir);
    if (nproblems > 1 && err && errlen > 0) {
        size_t n = strlen(err);
        if (n + 1 < errlen)
            snprintf(err + n, errlen - n, " (and %d more problem%s, see the log)", nproblems - 1,
                     nproblems > 2 ? "s" : "");
    }
    return nproblems ? -EINVAL : 0;
}

/* Phase 2: applies the pending files in version order, stopping at the first failure. */
static int apply_pending(PGconn *conn, const char *sql_dir, const mfile_t *files, size_t nfiles,
                         const bool *pending, int max_applied, int *n_new, char *err, size_t errlen)
{
    for (size_t i = 0; i < nfiles; i++) {
        if (!pending[i]) continue;
        const mfile_t *f = &files[i];
        size_t len = 0;
        char *sql = read_file(sql_dir, f->name, &len, err, errlen);
        if (!sql) return -EIO;
        /* The checksum recorded is the one of the exact text applied. */
        char sum[65];
        sha256_hex(sql, len, sum);
        if (f->version < max_applied)
            log_warn("db", "applying %s out of order (version %04d already applied)", f->name,
                     max_applied);
        int rc = apply_one(conn, f, sql, sum, err, errlen);
        free(sql);
        if (rc < 0) return rc;
        (*n_new)++;
    }
    return 0;
}

static int run_locked(PGconn *conn, const char *sql_dir, const mfile_t *files, size_t nfiles,
                      char *err, size_t errlen)
{
    if (!exec_ok(conn,
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now())",
                 "creating schema_migrations", err, errlen))
        return -EIO;
    applied_t *applied = NULL;
    size_t napplied = 0;
    int rc = load_applied(conn, &applied, &napplied, err, errlen);
    if (rc < 0) return rc;
    bool *pending = calloc(nfiles ? nfiles : 1, sizeof *pending);
    int n_new = 0;
    if (!pending)
        rc = -ENOMEM;
    else
        rc = verify_applied(sql_dir, files, nfiles, applied, napplied, pending, err, errlen);
    if (rc == 0) {
        int max_applied = napplied ? applied[napplied - 1].version : -1;
        rc = apply_pending(conn, sql_dir, files, nfiles, pending, max_applied, &n_new, err, errlen);
    }
    for (size_t j = 0; j < napplied; j++) {
        free(applied[j].name);
        free(applied[j].checksum);
    }
    free(applied);
    free(pending);
    if (rc == 0) log_info("db", "migrations up to date (%d applied now, %zu files)", n_new, nfiles);
    return rc;
}

int db_migrate_run(const char *database_url, const char *sql_dir, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!database_url || !sql_dir) {
        set_err(err, errlen, "database URL and migrations directory are required");
        return -EINVAL;
    }
    mfile_t *files = NULL;
    size_t nfiles = 0;
    int rc = scan_dir(sql_dir, &files, &nfiles, err, errlen);
    if (rc < 0) return rc;
    PGconn *conn = PQconnectdb(database_url);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        set_err(err, errlen, "cannot connect to the database: %s",
                conn ? PQerrorMessage(conn) : "out of memory");
        PQfinish(conn);
        free(files);
        return -EIO;
    }
    PQsetNoticeProcessor(conn, quiet_notice, NULL);
    /* Session-level lock: held across the per-file transactions, released on disconnect even
     * if this process dies. Concurrent runners queue here. */
    if (!exec_ok(conn, LOCK_SQL, "taking the migration lock", err, errlen)) {
        rc = -EIO;
    } else {
        rc = run_locked(conn, sql_dir, files, nfiles, err, errlen);
        PQclear(PQexec(conn, UNLOCK_SQL));
    }
    PQfinish(conn);
    free(files);
    return rc;
}
