#include <stdlib.h>

#include "core/config.h"
#include "test.h"

TEST(defaults_load)
{
    unsetenv("NOVA_LISTEN");
    unsetenv("NOVA_PROCESSES");
    config_t c;
    char err[256];
    ASSERT_EQ(config_load(&c, err, sizeof err), 0);
    ASSERT_STREQ(c.listen, "127.0.0.1:8000");
    ASSERT_EQ(c.processes, 1);
    ASSERT_EQ(c.max_header_bytes, 16384);
    ASSERT_EQ(c.header_timeout_ms, 10000);
    ASSERT_EQ(c.keepalive_timeout_ms, 60000);
    ASSERT_EQ(c.db_pool_size, 8);
    config_free(&c);
}

TEST(environment_overrides_and_bounds)
{
    config_t c;
    char err[256];
    setenv("NOVA_PROCESSES", "3", 1);
    setenv("NOVA_MIGRATE_ON_START", "false", 1);
    ASSERT_EQ(config_load(&c, err, sizeof err), 0);
    ASSERT_EQ(c.processes, 3);
    ASSERT_EQ(c.migrate_on_start, 0);
    config_free(&c);
    setenv("NOVA_PROCESSES", "0", 1);
    ASSERT_EQ(config_load(&c, err, sizeof err), -1);
    ASSERT(strstr(err, "NOVA_PROCESSES") && strstr(err, "out of range"));
    setenv("NOVA_PROCESSES", "2x", 1);
    ASSERT_EQ(config_load(&c, err, sizeof err), -1);
    ASSERT(strstr(err, "not a valid integer"));
    setenv("NOVA_PROCESSES", "1", 1);
    setenv("NOVA_MIGRATE_ON_START", "maybe", 1);
    ASSERT_EQ(config_load(&c, err, sizeof err), -1);
    ASSERT(strstr(err, "NOVA_MIGRATE_ON_START"));
    unsetenv("NOVA_MIGRATE_ON_START");
    unsetenv("NOVA_PROCESSES");
}

TEST(every_entry_is_named_once)
{
    size_t n = config_count();
    ASSERT(n > 20);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            ASSERT(strcmp(config_env_name(i), config_env_name(j)) != 0);
}

TEST_MAIN({"defaults_load", defaults_load},
          {"environment_overrides_and_bounds", environment_overrides_and_bounds},
          {"every_entry_is_named_once", every_entry_is_named_once})
