#include "nginx_sid_ctx.h"

#include <string.h>

#include <openssl/evp.h>

int nginx_sid_ctx(const char *module, X509 *const *certs, size_t n,
                  const STACK_OF(X509_NAME) *client_ca,
                  unsigned char out[NGINX_SID_CTX_BYTES])
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && n > 0 && EVP_DigestInit_ex(md, EVP_sha1(), NULL) == 1 &&
             EVP_DigestUpdate(md, module, strlen(module)) == 1;

    /* nginx prepends each loaded certificate to its list: the last
     * ssl_certificate directive is hashed first. */
    for (size_t i = n; ok && i-- > 0;)
        ok = X509_digest(certs[i], EVP_sha1(), h, &len) == 1 &&
             EVP_DigestUpdate(md, h, len) == 1;
    for (int i = 0; ok && client_ca != NULL && i < sk_X509_NAME_num(client_ca); i++)
        ok = X509_NAME_digest(sk_X509_NAME_value(client_ca, i), EVP_sha1(), h, &len) == 1 &&
             EVP_DigestUpdate(md, h, len) == 1;
    ok = ok && EVP_DigestFinal_ex(md, h, &len) == 1 && len == NGINX_SID_CTX_BYTES;
    if (ok)
        memcpy(out, h, NGINX_SID_CTX_BYTES);
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}
