/* pg_cluster: a private PostgreSQL cluster for unit tests that need a server of their own (they
 * stop and restart it, or need an empty database). Started with tools/pgctl on first use, stopped
 * and deleted at exit; the test skips when PostgreSQL 15 is not installed. Include once per test
 * file (the functions are static). */
#ifndef NOVA_TEST_PG_CLUSTER_H
#define NOVA_TEST_PG_CLUSTER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

/* ---- private cluster (started on first use, stopped and deleted at exit) ---- */

static char cluster_dir[128];
static char cluster_url[256];
static char cluster_pgctl[1024];

static void cluster_stop_at_exit(void)
{
    if (!cluster_dir[0]) return;
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "'%s' stop '%s' --immediate >/dev/null 2>&1; rm -rf '%s'",
             cluster_pgctl, cluster_dir, cluster_dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: cleanup of %s failed\n", cluster_dir);
    cluster_dir[0] = '\0';
}

/* Starts the cluster on first use and returns its DATABASE_URL. */
static const char *cluster_url_get(void)
{
    if (cluster_url[0]) return cluster_url;
    if (access("/usr/lib/postgresql/15/bin/initdb", X_OK) != 0)
        TEST_SKIP("PostgreSQL 15 (/usr/lib/postgresql/15/bin/initdb) is not installed");
    const char *src = getenv("NOVA_SOURCE_DIR");
    snprintf(cluster_pgctl, sizeof cluster_pgctl, "%s/tools/pgctl", src ? src : ".");
    if (access(cluster_pgctl, X_OK) != 0) TEST_SKIP("tools/pgctl not found (set NOVA_SOURCE_DIR)");
    snprintf(cluster_dir, sizeof cluster_dir, "/tmp/nova-dbtest-XXXXXX");
    if (!mkdtemp(cluster_dir)) {
        cluster_dir[0] = '\0';
        fprintf(stderr, "mkdtemp failed\n");
        exit(1);
    }
    atexit(cluster_stop_at_exit);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "'%s' start '%s' --fast", cluster_pgctl, cluster_dir);
    FILE *p = popen(cmd, "r");
    if (!p || !fgets(cluster_url, sizeof cluster_url, p)) cluster_url[0] = '\0';
    int rc = p ? pclose(p) : -1;
    cluster_url[strcspn(cluster_url, "\n")] = '\0';
    if (rc != 0 || strncmp(cluster_url, "postgresql://", 13) != 0) {
        fprintf(stderr, "tools/pgctl start failed (rc=%d)\n", rc);
        exit(1);
    }
    return cluster_url;
}

#endif
