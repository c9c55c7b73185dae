/* Unit tests for HMAC-signed media URLs: round trip, tampering, expiry, malformed input. */
#include "test.h"

#include <errno.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "media/signed_url.h"

static const char KEY[] = "0123456789abcdef0123456789abcdef-test-key";
#define KL (sizeof KEY - 1)
static const char PATH[] = "/media/2024/05/0b6f7a52-6c1e-4c39-9a55-2f4f1f3f8d10/audio_17.mp3";

/* Splits "?expires=E&sig=S" into its two values. */
static void split(const char *q, char *exp, char *sig)
{
    ASSERT(strncmp(q, "?expires=", 9) == 0);
    const char *amp = strchr(q, '&');
    ASSERT(amp && strncmp(amp, "&sig=", 5) == 0);
    memcpy(exp, q + 9, (size_t)(amp - q - 9));
    exp[amp - q - 9] = '\0';
    strcpy(sig, amp + 5);
}

TEST(round_trip)
{
    char q[SIGNED_URL_QUERY_MAX], exp[32], sig[64];
    int n = signed_url_make(KEY, KL, PATH, 1700000600, q, sizeof q);
    ASSERT(n > 0);
    ASSERT_EQ(n, (int)strlen(q));
    split(q, exp, sig);
    ASSERT_STREQ(exp, "1700000600");
    ASSERT_EQ(strlen(sig), SIGNED_URL_SIG_LEN);
    ASSERT(strspn(sig, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
           SIGNED_URL_SIG_LEN);
    ASSERT_EQ(signed_url_verify(KEY, KL, PATH, exp, sig, 1700000000), SIGNED_URL_OK);
    ASSERT_EQ(signed_url_verify(KEY, KL, PATH, exp, sig, 1700000600), SIGNED_URL_OK);
    ASSERT_EQ(signed_url_verify(KEY, KL, PATH, exp, sig, 1700000601), SIGNED_URL_EXPIRED);
    ASSERT_EQ(signed_url_verify_query(KEY, KL, PATH, q + 1, 1700000000), SIGNED_URL_OK);
}

/* The signature is HMAC-SHA256 over the documented message, so another component (or a test
 * in another language) can produce compatible URLs. */
TEST(matches_documented_message)
{
    char q[SIGNED_URL_QUERY_MAX], exp[32], sig[64];
    ASSERT(signed_url_make(KEY, KL, "/media/a.png", 42, q, sizeof q) > 0);
    split(q, exp, sig);
    static const char msg[] = "nova-media-v1\n/media/a.png\n42";
    unsigned char mac[32];
    unsigned int ml = 0;
    HMAC(EVP_sha256(), KEY, (int)KL, (const unsigned char *)msg, sizeof msg - 1, mac, &ml);
    ASSERT_EQ(ml, 32);
    char b64[64];
    int n = EVP_EncodeBlock((unsigned char *)b64, mac, 32); /* standard alphabet, padded */
    ASSERT_EQ(n, 44);
    b64[43] = '\0';
    for (int i = 0; i < 43; i++)
        b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    ASSERT_STREQ(sig, b64);
}

TEST(tampering_detected)
{
    char q[SIGNED_URL_QUERY_MAX], exp[32], sig[64];
    ASSERT(signed_url_make(KEY, KL, PATH, 1700000600, q, sizeof q) > 0);
    split(q, exp, sig);
    char other[sizeof PATH];
    strcpy(other, PATH);
    other[sizeof PATH - 2] = '4'; /* audio_17.mp4 */
    ASSERT_EQ(signed_url_verify(KEY, KL, other, exp, sig, 0), SIGNED_URL_BAD_SIGNATURE);
    ASSERT_EQ(signed_url_verify(KEY, KL, "/media/x", exp, sig, 0), SIGNED_URL_BAD_SIGNATURE);
    ASSERT_EQ(signed_url_verify(KEY, KL, PATH, "1700000601", sig, 0), SIGNED_URL_BAD_SIGNATURE);
    ASSERT_EQ(signed_url_verify(KEY, KL, PATH, "9999999999", sig, 0), SIGNED_URL_BAD_SIGNATURE);
    /* An expired URL whose expiry was pushed forward is a bad signature, not OK. */
    ASSERT_EQ(signed_url_verify(KEY, KL, PATH, "1800000000", sig, 1750000000),
              SIGNED_URL_BAD_SIGNATURE);
    /* Flip each character of the signature to another alphabet character. */
    for (int i = 0; i < SIGNED_URL_SIG_LEN; i++) {
        char t[64];
        strcpy(t, sig);
        t[i] = t[i] == 'A' ? 'Q' : 'A';
        signed_url_status_t st = signed_url_verify(KEY, KL, PATH, exp, t, 0);
        /* 'A' and 'Q' both have zero low bits, so even the last character stays canonical. */
        if (st != SIGNED_URL_BAD_SIGNATURE)
            TEST__FAIL("flip at %d gave %s", i, signed_url_status_name(st));
    }
    char key2[sizeof KEY];
    strcpy(key2, KEY);
    key2[0] = 'X';
    ASSERT_EQ(signed_url_verify(key2, KL, PATH, exp, sig, 0), SIGNED_URL_BAD_SIGNATURE);
    /* Expiry is only reported for genuine signatures. */
    ASSERT_EQ(signed_url_verify(key2, KL, PATH, exp, sig, 1800000000), SIGNED_URL_BAD_SIGNATURE);
}

TEST(malformed_inputs)
{
    char q[SIGNED_URL_QUERY_MAX], exp[32], sig[64];
    ASSERT(signed_url_make(KEY, KL, PATH, 1700000600, q, sizeof q) > 0);
    split(q, exp, sig);
    const char *bad_exp[] = {"",
                             "-1",
                             "+1700000600",
                             "01700000600",
                             "1700000600 ",
                             "17e8",
                             "99999999999999999999",
                             "0x10",
                             "1700000600\n"};
    for (size_t i = 0; i < sizeof bad_exp / sizeof bad_exp[0]; i++)
        if (signed_url_verify(KEY, KL, PATH, bad_exp[i], sig, 0) != SIGNED_URL_MALFORMED)
            TEST__FAIL("expires [%s] not malformed", bad_exp[i]);

    char t[80];
    snprintf(t, sizeof t, "%s=", sig); /* padding */
    ASSERT_EQ(signed_url_verify(KEY, KL, PATH, exp, t, 0), SIGNED_URL_MALFORMED);
    snprintf(t, sizeof t, "%.42s", sig); /* short */
    ASSERT_EQ(signed_url_verify(KEY, KL, PATH, exp, t, 0), SIGNED_URL_MALFORMED);
    snprintf(t, sizeof t, "%sA", sig); /* long */
    ASSERT_EQ(signed_url_verify(KEY, KL, PATH, exp, t, 0), SIGNED_URL_MALFORMED);
    strcpy(t, sig);
    t[5] = '+'; /* standard alphabet, not base64url */
    ASSERT_EQ(signed_url_verify(KEY, KL, PATH, exp, t, 0), SIGNED_URL_MALFORMED);
    t[5] = '%';
    ASSERT_EQ(signed_url_verify(KEY, KL, PATH, exp, t, 0), SIGNED_URL_MALFORMED);
    strcpy(t, sig);
    /* Non-zero trailing bits: the same MAC spelled differently is refused. */
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int v = (int)(strchr(alpha, t[42]) - alpha);
    t[42] = alpha[v | 1];
    ASSERT_EQ(signed_url_verify(KEY, KL, PATH, exp, t, 0), SIGNED_URL_MALFORMED);
    ASSERT_EQ(signed_url_verify(KEY, KL, PATH, NULL, sig, 0), SIGNED_URL_MALFORMED);
    ASSERT_EQ(signed_url_verify(KEY, KL, PATH, exp, NULL, 0), SIGNED_URL_MALFORMED);
    ASSERT_EQ(signed_url_verify(KEY, KL, "", exp, sig, 0), SIGNED_URL_MALFORMED);
}

TEST(query_forms)
{
    char q[SIGNED_URL_QUERY_MAX], exp[32], sig[64], buf[256];
    ASSERT(signed_url_make(KEY, KL, PATH, 1700000600, q, sizeof q) > 0);
    split(q, exp, sig);
    snprintf(buf, sizeof buf, "sig=%s&expires=%s", sig, exp);
    ASSERT_EQ(signed_url_verify_query(KEY, KL, PATH, buf, 0), SIGNED_URL_OK);
    snprintf(buf, sizeof buf, "v=2&expires=%s&x&sig=%s&", exp, sig);
    ASSERT_EQ(signed_url_verify_query(KEY, KL, PATH, buf, 0), SIGNED_URL_OK);
    snprintf(buf, sizeof buf, "expires=%s&sig=%s&expires=%s", exp, sig, exp);
    ASSERT_EQ(signed_url_verify_query(KEY, KL, PATH, buf, 0), SIGNED_URL_MALFORMED);
    snprintf(buf, sizeof buf, "expires=%s", exp);
    ASSERT_EQ(signed_url_verify_query(KEY, KL, PATH, buf, 0), SIGNED_URL_MALFORMED);
    snprintf(buf, sizeof buf, "expires&sig=%s", sig);
    ASSERT_EQ(signed_url_verify_query(KEY, KL, PATH, buf, 0), SIGNED_URL_MALFORMED);
    snprintf(buf, sizeof buf, "xexpires=%s&sig=%s", exp, sig);
    ASSERT_EQ(signed_url_verify_query(KEY, KL, PATH, buf, 0), SIGNED_URL_MALFORMED);
    ASSERT_EQ(signed_url_verify_query(KEY, KL, PATH, NULL, 0), SIGNED_URL_MALFORMED);
    ASSERT_EQ(signed_url_verify_query(KEY, KL, PATH, "", 0), SIGNED_URL_MALFORMED);
}

TEST(make_rejects_bad_arguments)
{
    char q[SIGNED_URL_QUERY_MAX];
    ASSERT_EQ(signed_url_make(KEY, 31, PATH, 1, q, sizeof q), -EINVAL); /* short key */
    ASSERT_EQ(signed_url_make(KEY, KL, "", 1, q, sizeof q), -EINVAL);
    ASSERT_EQ(signed_url_make(KEY, KL, NULL, 1, q, sizeof q), -EINVAL);
    ASSERT_EQ(signed_url_make(KEY, KL, PATH, -1, q, sizeof q), -EINVAL);
    ASSERT_EQ(signed_url_make(KEY, KL, PATH, 1, q, 20), -ENOSPC);
    ASSERT(signed_url_make(KEY, KL, PATH, INT64_MAX, q, sizeof q) > 0);
    ASSERT_EQ(signed_url_verify_query(KEY, KL, PATH, q + 1, INT64_MAX), SIGNED_URL_OK);
    ASSERT(signed_url_make(KEY, KL, PATH, 0, q, sizeof q) > 0);
    ASSERT_EQ(signed_url_verify_query(KEY, KL, PATH, q + 1, 0), SIGNED_URL_OK);
    ASSERT_EQ(signed_url_verify_query(KEY, KL, PATH, q + 1, 1), SIGNED_URL_EXPIRED);
    /* A short key never validates, even a URL it would have produced. */
    ASSERT(signed_url_make(KEY, KL, PATH, 100, q, sizeof q) > 0);
    ASSERT_EQ(signed_url_verify_query(KEY, 16, PATH, q + 1, 0), SIGNED_URL_BAD_SIGNATURE);
    ASSERT_STREQ(signed_url_status_name(SIGNED_URL_EXPIRED), "expired");
}

/* URLs issued within one step are identical, and each lives between ttl - step and ttl. */
TEST(step_start)
{
    ASSERT_EQ(signed_url_step_start(1700003599, 86400), 1700002800); /* hour steps */
    ASSERT_EQ(signed_url_step_start(1700002800, 86400), 1700002800);
    ASSERT_EQ(signed_url_step_start(1700000009, 240), 1700000000); /* 10 s steps */
    ASSERT_EQ(signed_url_step_start(1700000009, 10), 1700000009);  /* no step below 24 s */
    for (int64_t now = 1700000000; now < 1700007300; now += 97) {
        int64_t start = signed_url_step_start(now, 86400);
        ASSERT(start <= now && now - start < 3600);
        ASSERT_EQ(start % 3600, 0);
    }
}

TEST_MAIN({"step_start", step_start}, {"round_trip", round_trip},
          {"matches_documented_message", matches_documented_message},
          {"tampering_detected", tampering_detected}, {"malformed_inputs", malformed_inputs},
          {"query_forms", query_forms}, {"make_rejects_bad_arguments", make_rejects_bad_arguments})
