/*
 * Fuzz target: the session DER walker of the OpenSSL glue
 * (backends/openssl/session_der.c, tri_ossl_der_age_add), which reads the
 * ticket_age_add OpenSSL has no getter for.
 *
 * Checks, besides no crash or sanitizer report: whenever OpenSSL itself
 * decodes the bytes as a session, the walker reads OpenSSL's re-encoding
 * of that session (tri_ossl_session_age_add: the encoding it meets in
 * practice), and when the walker read the input too, both agree.
 */
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "session_der.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned char *p = data;
    uint32_t age = 0, again = 0;
    SSL_SESSION *s;
    int rc;

    rc = tri_ossl_der_age_add(data, size, &age);
    if (size > 0x7fffffff)
        return 0;
    s = d2i_SSL_SESSION(NULL, &p, (long)size);
    if (s != NULL) {
        FZ_CHECK(tri_ossl_session_age_add(s, &again) == 0);
        if (rc == 0 && p == data + size)
            FZ_CHECK(again == age);
        SSL_SESSION_free(s);
    }
    ERR_clear_error();
    return 0;
}
