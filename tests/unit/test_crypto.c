/* crypto: known-answer tests (FIPS 180-2 SHA-256, RFC 4648 base64 vectors), round trips of every
 * length, rejection of non-canonical encodings, constant-time compare and random bytes. */
#include <errno.h>
#include <string.h>

#include "core/crypto.h"
#include "test.h"

TEST(sha256_known_answers)
{
    char hex[65];
    crypto_sha256_hex("", 0, hex);
    ASSERT_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    crypto_sha256_hex("abc", 3, hex);
    ASSERT_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    crypto_sha256_hex(two, strlen(two), hex);
    ASSERT_STREQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    uint8_t raw[32];
    crypto_sha256("abc", 3, raw);
    ASSERT_EQ(raw[0], 0xba);
    ASSERT_EQ(raw[31], 0xad);
}

TEST(hex_round_trip_and_errors)
{
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};
    char hex[13];
    ASSERT_EQ(crypto_hex_encode(in, sizeof in, hex, sizeof hex), 12);
    ASSERT_STREQ(hex, "00017f80feff");
    ASSERT_EQ(crypto_hex_encode(in, sizeof in, hex, 12), -ENOSPC);
    uint8_t out[6];
    ASSERT_EQ(crypto_hex_decode("00017F80FEff", 12, out, sizeof out), 6);
    ASSERT_MEMEQ(out, in, 6);
    ASSERT_EQ(crypto_hex_decode("abc", 3, out, sizeof out), -EINVAL);
    ASSERT_EQ(crypto_hex_decode("zz", 2, out, sizeof out), -EINVAL);
    ASSERT_EQ(crypto_hex_decode("00112233445566", 14, out, sizeof out), -ENOSPC);
}

TEST(base64_rfc4648_vectors)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const std[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char out[16];
        size_t n = strlen(plain[i]);
        ASSERT_EQ(crypto_base64_encode(plain[i], n, out, sizeof out), (int)strlen(std[i]));
        ASSERT_STREQ(out, std[i]);
        ASSERT_EQ(crypto_base64url_encode(plain[i], n, out, sizeof out), (int)strlen(url[i]));
        ASSERT_STREQ(out, url[i]);
        uint8_t dec[16];
        ASSERT_EQ(crypto_base64_decode(std[i], strlen(std[i]), dec, sizeof dec), (int)n);
        ASSERT_MEMEQ(dec, plain[i], n);
        ASSERT_EQ(crypto_base64url_decode(url[i], strlen(url[i]), dec, sizeof dec), (int)n);
        ASSERT_MEMEQ(dec, plain[i], n);
    }
}

TEST(base64_alphabets_differ)
{
    const uint8_t in[] = {0xfb, 0xff, 0xbf};
    char out[8];
    crypto_base64_encode(in, 3, out, sizeof out);
    ASSERT_STREQ(out, "+/+/");
    crypto_base64url_encode(in, 3, out, sizeof out);
    ASSERT_STREQ(out, "-_-_");
    uint8_t dec[4];
    ASSERT_EQ(crypto_base64_decode("-_-_", 4, dec, sizeof dec), -EINVAL);
    ASSERT_EQ(crypto_base64url_decode("+/+/", 4, dec, sizeof dec), -EINVAL);
}

TEST(base64_rejects_non_canonical)
{
    uint8_t dec[16];
    ASSERT_EQ(crypto_base64_decode("Zg", 2, dec, sizeof dec), -EINVAL);      /* padding missing */
    ASSERT_EQ(crypto_base64_decode("Zh==", 4, dec, sizeof dec), -EINVAL);    /* unused bits set */
    ASSERT_EQ(crypto_base64_decode("Z===", 4, dec, sizeof dec), -EINVAL);    /* too much padding */
    ASSERT_EQ(crypto_base64_decode("Zg=a", 4, dec, sizeof dec), -EINVAL);    /* '=' inside */
    ASSERT_EQ(crypto_base64url_decode("Zg==", 4, dec, sizeof dec), -EINVAL); /* padding */
    ASSERT_EQ(crypto_base64url_decode("Zh", 2, dec, sizeof dec), -EINVAL);
    ASSERT_EQ(crypto_base64url_decode("Z", 1, dec, sizeof dec), -EINVAL);
    ASSERT_EQ(crypto_base64url_decode("Zm 9v", 5, dec, sizeof dec), -EINVAL);
    ASSERT_EQ(crypto_base64url_decode("Zm9vYmFy", 8, dec, 5), -ENOSPC);
    char out[4];
    ASSERT_EQ(crypto_base64_encode("foo", 3, out, sizeof out), -ENOSPC);
}

TEST(base64_round_trip_every_length)
{
    uint8_t in[70], dec[70];
    char enc[CRYPTO_B64_ENC_LEN(70)], uenc[CRYPTO_B64URL_ENC_LEN(70)];
    for (size_t n = 0; n <= sizeof in; n++) {
        ASSERT_EQ(crypto_random(in, n), 0);
        int e = crypto_base64_encode(in, n, enc, sizeof enc);
        ASSERT(e >= 0 && (size_t)e + 1 <= CRYPTO_B64_ENC_LEN(n));
        ASSERT_EQ(crypto_base64_decode(enc, (size_t)e, dec, sizeof dec), (int)n);
        ASSERT_MEMEQ(dec, in, n);
        e = crypto_base64url_encode(in, n, uenc, sizeof uenc);
        ASSERT(e >= 0 && (size_t)e + 1 == CRYPTO_B64URL_ENC_LEN(n));
        ASSERT(strspn(uenc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
               (size_t)e);
        ASSERT_EQ(crypto_base64url_decode(uenc, (size_t)e, dec, sizeof dec), (int)n);
        ASSERT_MEMEQ(dec, in, n);
    }
    /* A 32-byte token is 43 characters. */
    ASSERT_EQ(crypto_base64url_encode(in, 32, uenc, sizeof uenc), 43);
}

TEST(constant_time_compare)
{
    uint8_t a[32], b[32];
    ASSERT_EQ(crypto_random(a, sizeof a), 0);
    memcpy(b, a, sizeof a);
    ASSERT(crypto_ct_equal(a, b, sizeof a));
    for (size_t i = 0; i < sizeof a; i++) {
        b[i] ^= 0x01;
        ASSERT(!crypto_ct_equal(a, b, sizeof a));
        b[i] ^= 0x01;
    }
    ASSERT(crypto_ct_equal(a, b, 0));
}

TEST(random_bytes_differ_and_fill)
{
    uint8_t a[64], b[64], zero[64];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    memset(zero, 0, sizeof zero);
    ASSERT_EQ(crypto_random(a, sizeof a), 0);
    ASSERT_EQ(crypto_random(b, sizeof b), 0);
    ASSERT(memcmp(a, b, sizeof a) != 0);
    ASSERT(memcmp(a, zero, sizeof a) != 0);
    ASSERT(memcmp(a + 48, zero, 16) != 0); /* the tail is filled too */
    crypto_wipe(a, sizeof a);
    ASSERT_MEMEQ(a, zero, sizeof a);
}

TEST_MAIN({"sha256_known_answers", sha256_known_answers},
          {"hex_round_trip_and_errors", hex_round_trip_and_errors},
          {"base64_rfc4648_vectors", base64_rfc4648_vectors},
          {"base64_alphabets_differ", base64_alphabets_differ},
          {"base64_rejects_non_canonical", base64_rejects_non_canonical},
          {"base64_round_trip_every_length", base64_round_trip_every_length},
          {"constant_time_compare", constant_time_compare},
          {"random_bytes_differ_and_fill", random_bytes_differ_and_fill})
