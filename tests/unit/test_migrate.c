/* Tests for db_migrate_run against a private PostgreSQL 15 cluster (tools/pgctl): concurrent
 * runners apply each migration exactly once, order is numeric, every applied file is verified
 * (checksum, presence) before any new one is applied, and a failing migration is rolled back
 * and named. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "db/db_migrate.h"
#include "test.h"

#include "pg_cluster.h"

static char sql_dir[128];

static void rm_sql_dir(void)
{
    if (!sql_dir[0]) return;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", sql_dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", sql_dir);
}

static void write_file(const char *name, const char *content)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", sql_dir, name);
    FILE *f = fopen(path, "w");
    ASSERT(f);
    fputs(content, f);
    fclose(f);
}

static void remove_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", sql_dir, name);
    ASSERT_EQ(unlink(path), 0);
}

/* Blocking helper for assertions: first value of the first row, "" if none, "ERR" on error. */
static char scalar_buf[512];
static const char *scalar(const char *sql)
{
    PGconn *c = PQconnectdb(cluster_url_get());
    ASSERT(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        snprintf(scalar_buf, sizeof scalar_buf, "ERR");
    else
        snprintf(scalar_buf, sizeof scalar_buf, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
    return scalar_buf;
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static const char m1[] = "CREATE TABLE mig_a (id int);\n"
                         "SELECT pg_sleep(0.3); -- widen the race window\n";
static const char m2[] = "INSERT INTO mig_a VALUES (1);\n";
static const char m10[] = "CREATE TABLE mig_c (x text);\nINSERT INTO mig_c VALUES ('it''s');\n"
                          "INSERT INTO mig_a VALUES (10);\n";

static void setup(void)
{
    cluster_url_get();
    if (sql_dir[0]) return;
    snprintf(sql_dir, sizeof sql_dir, "/tmp/nova-migtest-XXXXXX");
    ASSERT(mkdtemp(sql_dir));
    atexit(rm_sql_dir);
    /* Numeric order matters: 0010 must run after 0002 (it inserts after 0002's row). */
    write_file("0010_more.sql", m10);
    write_file("0002_insert.sql", m2);
    write_file("0001_create.sql", m1);
    write_file("README.md", "not a migration");
    write_file("12_short.sql", "SELECT broken syntax"); /* not NNNN_: ignored */
}

TEST(concurrent_runners_apply_once)
{
    setup();
    enum { N = 4 };
    pid_t kids[N];
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        ASSERT(kids[i] >= 0);
        if (kids[i] == 0) {
            char err[512];
            int rc = db_migrate_run(cluster_url_get(), sql_dir, err, sizeof err);
            if (rc != 0) fprintf(stderr, "child %d: %s\n", i, err);
            _exit(rc == 0 ? 0 : 1);
        }
    }
    for (int i = 0; i < N; i++) {
        int st = 0;
        ASSERT_EQ(waitpid(kids[i], &st, 0), kids[i]);
        ASSERT(WIFEXITED(st));
        ASSERT_EQ(WEXITSTATUS(st), 0);
    }
    ASSERT_STREQ(scalar("SELECT string_agg(version::text, ',' ORDER BY version) FROM "
                        "schema_migrations"),
                 "1,2,10");
    ASSERT_STREQ(scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM mig_a"), "1,10");
    ASSERT_STREQ(scalar("SELECT x FROM mig_c"), "it's");
    char sum[65];
    sha256_hex(m2, sum);
    ASSERT_STREQ(scalar("SELECT checksum FROM schema_migrations WHERE version = 2"), sum);
    ASSERT_STREQ(scalar("SELECT name FROM schema_migrations WHERE version = 10"), "0010_more.sql");
    ASSERT_STREQ(scalar("SELECT count(*) FROM schema_migrations WHERE applied_at <= now()"), "3");
    /* Running again is a no-op. */
    char err[512];
    ASSERT_EQ(db_migrate_run(cluster_url_get(), sql_dir, err, sizeof err), 0);
    ASSERT_STREQ(scalar("SELECT count(*) FROM mig_a"), "2");
}

static const char *migrations_applied(void)
{
    return scalar("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations");
}

TEST(tampered_file_is_named)
{
    setup();
    char err[512];
    ASSERT_EQ(db_migrate_run(cluster_url_get(), sql_dir, err, sizeof err), 0);
    ASSERT_STREQ(migrations_applied(), "1,2,10");
    /* The tampered file sorts AFTER the new one: verification must still come first. */
    write_file("0010_more.sql", "CREATE TABLE mig_c (x text);\n-- edited later\n");
    write_file("0003_next.sql", "CREATE TABLE mig_next (id int);\n");
    int rc = db_migrate_run(cluster_url_get(), sql_dir, err, sizeof err);
    ASSERT_EQ(rc, -EINVAL);
    ASSERT(strstr(err, "0010_more.sql") != NULL);
    ASSERT(strstr(err, "modified") != NULL);
    ASSERT(strstr(err, "more problem") == NULL); /* exactly one problem */
    /* Nothing was applied: not 0003, although it precedes the tampered file. */
    ASSERT_STREQ(migrations_applied(), "1,2,10");
    ASSERT_STREQ(scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'mig_next'"), "0");

    /* Two tampered files: the first (by version) is named, the other counted. */
    write_file("0002_insert.sql", "INSERT INTO mig_a VALUES (2);\n");
    rc = db_migrate_run(cluster_url_get(), sql_dir, err, sizeof err);
    ASSERT_EQ(rc, -EINVAL);
    ASSERT(strstr(err, "0002_insert.sql") != NULL);
    ASSERT(strstr(err, "and 1 more problem,") != NULL);
    ASSERT_STREQ(migrations_applied(), "1,2,10");

    /* Restored: the pending file is applied. */
    write_file("0002_insert.sql", m2);
    write_file("0010_more.sql", m10);
    ASSERT_EQ(db_migrate_run(cluster_url_get(), sql_dir, err, sizeof err), 0);
    ASSERT_STREQ(migrations_applied(), "1,2,3,10");
    ASSERT_STREQ(scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'mig_next'"), "1");
}

TEST(failing_migration_rolls_back)
{
    setup();
    char err[512];
    write_file("0011_bad.sql", "CREATE TABLE mig_half (x int);\nSELEC 1;\n");
    int rc = db_migrate_run(cluster_url_get(), sql_dir, err, sizeof err);
    ASSERT(rc < 0);
    ASSERT(strstr(err, "0011_bad.sql") != NULL);
    ASSERT(strstr(err, "syntax") != NULL);
    ASSERT_STREQ(scalar("SELECT count(*) FROM schema_migrations WHERE version = 11"), "0");
    ASSERT_STREQ(scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'mig_half'"), "0");
    /* Fixed file: applies. */
    write_file("0011_bad.sql", "CREATE TABLE mig_half (x int);\n");
    ASSERT_EQ(db_migrate_run(cluster_url_get(), sql_dir, err, sizeof err), 0);
    ASSERT_STREQ(scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'mig_half'"), "1");
    /* A file that ends the transaction itself is rejected. */
    write_file("0012_commit.sql", "COMMIT;\n");
    rc = db_migrate_run(cluster_url_get(), sql_dir, err, sizeof err);
    ASSERT(rc < 0);
    ASSERT(strstr(err, "0012_commit.sql") != NULL);
    remove_file("0012_commit.sql");
}

TEST(missing_applied_file_is_refused_and_bad_layouts_fail)
{
    setup();
    char err[512];
    ASSERT_EQ(db_migrate_run(cluster_url_get(), sql_dir, err, sizeof err), 0);
    const char *before = migrations_applied();
    char applied_before[256];
    snprintf(applied_before, sizeof applied_before, "%s", before);
    /* An applied file deleted from the folder: refused, and the new file is not applied. */
    remove_file("0010_more.sql");
    write_file("0013_after_missing.sql", "CREATE TABLE mig_after (id int);\n");
    int rc = db_migrate_run(cluster_url_get(), sql_dir, err, sizeof err);
    ASSERT_EQ(rc, -EINVAL);
    ASSERT(strstr(err, "0010_more.sql") != NULL);
    ASSERT(strstr(err, "missing") != NULL);
    ASSERT_STREQ(migrations_applied(), applied_before);
    ASSERT_STREQ(scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'mig_after'"), "0");
    write_file("0010_more.sql", m10);
    ASSERT_EQ(db_migrate_run(cluster_url_get(), sql_dir, err, sizeof err), 0);
    ASSERT_STREQ(scalar("SELECT count(*) FROM schema_migrations WHERE version = 13"), "1");

    write_file("0002_dup.sql", "SELECT 1;\n");
    rc = db_migrate_run(cluster_url_get(), sql_dir, err, sizeof err);
    ASSERT_EQ(rc, -EINVAL);
    ASSERT(strstr(err, "0002_dup.sql") && strstr(err, "0002_insert.sql"));
    remove_file("0002_dup.sql");
    ASSERT_EQ(db_migrate_run(cluster_url_get(), "/nonexistent/dir", err, sizeof err), -ENOENT);
    rc = db_migrate_run("postgresql://nova@127.0.0.1:1/nova", sql_dir, err, sizeof err);
    ASSERT_EQ(rc, -EIO);
    ASSERT(strstr(err, "connect") != NULL);
}

TEST_MAIN({"concurrent_runners_apply_once", concurrent_runners_apply_once},
          {"tampered_file_is_named", tampered_file_is_named},
          {"failing_migration_rolls_back", failing_migration_rolls_back},
          {"missing_applied_file_is_refused_and_bad_layouts_fail",
           missing_applied_file_is_refused_and_bad_layouts_fail})
