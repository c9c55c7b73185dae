/* admin_cli: the first administrator. `nova-storyteller createsuperuser --username U --email E`
 * (password from NOVA_ADMIN_PASSWORD or the first line of standard input), and at server start
 * the optional administrator from NOVA_ADMIN_EMAIL/NOVA_ADMIN_PASSWORD. Both run before any
 * request is served, so they use blocking libpq and hash on the calling thread. */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/accounts.h"
#include "api/mailer.h"
#include "core/crypto.h"
#include "core/log.h"
#include "db/db_migrate.h"

/* Creates the superuser. Returns 0, 1 when an account with that username or email exists
 * (nothing is changed), or -1 with a message in err. */
static int admin__create(const config_t *cfg, const char *username, const char *email,
                         const char *password, char *err, size_t errlen)
{
    const char *m = api_validate_username(username);
    if (!m) m = api_validate_email(email);
    if (!m) m = api_validate_password(password, username, email);
    if (m) {
        snprintf(err, errlen, "%s", m);
        return -1;
    }
    password_params_t pp;
    api_password_params(cfg, &pp);
    char phc[PASSWORD_PHC_MAX];
    int rc = password_hash_sync(&pp, password, strlen(password), phc, sizeof phc);
    if (rc != 0) {
        snprintf(err, errlen, "password hashing failed (%d)", rc);
        return -1;
    }
    PGconn *pg = PQconnectdb(cfg->database_url);
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to the database: %s", PQerrorMessage(pg));
        PQfinish(pg);
        crypto_wipe(phc, sizeof phc);
        return -1;
    }
    static const char sql[] =
        "WITH u AS (INSERT INTO users (username, email, password_hash, is_staff, is_superuser) "
        "SELECT $1, $2, $3, true, true WHERE NOT EXISTS (SELECT 1 FROM users "
        "WHERE lower(username) = lower($1) OR lower(email) = lower($2)) "
        "ON CONFLICT DO NOTHING RETURNING id), "
        "p AS (INSERT INTO user_profiles (user_id) SELECT id FROM u) SELECT id FROM u";
    const char *params[3] = {username, email, phc};
    PGresult *res = PQexecParams(pg, sql, 3, NULL, params, NULL, NULL, 0);
    crypto_wipe(phc, sizeof phc);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "cannot create the user: %s", PQerrorMessage(pg));
        rc = -1;
    } else if (PQntuples(res) == 0) {
        rc = 1;
    } else {
        log_info("accounts", "superuser %s created (id %s)", username, PQgetvalue(res, 0, 0));
        rc = 0;
    }
    PQclear(res);
    PQfinish(pg);
    return rc;
}

static int admin__migrate(const config_t *cfg, char *err, size_t errlen)
{
    if (!cfg->migrate_on_start) return 0;
    const char *dir = cfg->sql_dir && *cfg->sql_dir ? cfg->sql_dir : NOVA_DEFAULT_SQL_DIR;
    return db_migrate_run(cfg->database_url, dir, err, errlen);
}

int api_accounts_start(const config_t *cfg, char *err, size_t errlen)
{
    if (!mailer_find(cfg->mail)) {
        snprintf(err, errlen, "NOVA_MAIL=\"%s\" is not a known mailer (use \"log\")", cfg->mail);
        return -1;
    }
    if (!cfg->admin_email || !*cfg->admin_email) return 0;
    if (!cfg->admin_password || !*cfg->admin_password) {
        snprintf(err, errlen, "NOVA_ADMIN_EMAIL is set but NOVA_ADMIN_PASSWORD is empty");
        return -1;
    }
    if (!cfg->database_url || !*cfg->database_url) {
        snprintf(err, errlen, "NOVA_ADMIN_EMAIL needs DATABASE_URL");
        return -1;
    }
    int rc =
        admin__create(cfg, cfg->admin_username, cfg->admin_email, cfg->admin_password, err, errlen);
    if (rc < 0) return -1;
    if (rc == 1) log_info("accounts", "administrator from NOVA_ADMIN_EMAIL already exists");
    return 0;
}

int api_createsuperuser_main(const config_t *cfg, int argc, char **argv)
{
    const char *username = NULL, *email = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--username") == 0 && i + 1 < argc)
            username = argv[++i];
        else if (strcmp(argv[i], "--email") == 0 && i + 1 < argc)
            email = argv[++i];
        else if (strncmp(argv[i], "--username=", 11) == 0)
            username = argv[i] + 11;
        else if (strncmp(argv[i], "--email=", 8) == 0)
            email = argv[i] + 8;
        else {
            fprintf(stderr, "createsuperuser: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (!username || !email) {
        fprintf(stderr, "usage: nova-storyteller createsuperuser --username U --email E\n"
                        "(password from NOVA_ADMIN_PASSWORD or the first line of stdin)\n");
        return 2;
    }
    if (!cfg->database_url || !*cfg->database_url) {
        fprintf(stderr, "createsuperuser: DATABASE_URL is not set\n");
        return 2;
    }
    char pw[PASSWORD_MAX_LEN + 2];
    if (cfg->admin_password && *cfg->admin_password) {
        snprintf(pw, sizeof pw, "%s", cfg->admin_password);
    } else {
        if (isatty(STDIN_FILENO)) fprintf(stderr, "Password: ");
        if (!fgets(pw, sizeof pw, stdin)) {
            fprintf(stderr, "createsuperuser: no password on standard input\n");
            return 2;
        }
        pw[strcspn(pw, "\r\n")] = '\0';
    }
    char err[512];
    int rc = admin__migrate(cfg, err, sizeof err);
    if (rc == 0) rc = admin__create(cfg, username, email, pw, err, sizeof err);
    crypto_wipe(pw, sizeof pw);
    if (rc < 0) {
        fprintf(stderr, "createsuperuser: %s\n", err);
        return 1;
    }
    if (rc == 1) {
        fprintf(stderr, "createsuperuser: a user with that username or email already exists\n");
        return 1;
    }
    printf("Superuser %s created.\n", username);
    return 0;
}
