/* The callback-path section of bench_handshake: one ticket sealed or opened
 * per op, through OpenSSL 3.0's ticket code around each variant's key
 * callback (bench_evp_path.h, bench_nginx.h), the callback's own share, and
 * a breakdown into the steps the time goes to (bench_steps.h). */
#ifndef TICKETRING_BENCH_CBPATH_H
#define TICKETRING_BENCH_CBPATH_H

#include <openssl/ssl.h>

#include "bench_evp_path.h"
#include "bench_nginx.h"
#include "ticketring/ticketring.h"

struct bc_inputs {
    /* A server SSL of each variant's SSL_CTX after a TLS 1.3 handshake, so
     * the callbacks see what they see during a resumption: (a) OpenSSL's
     * built-in keys, (b) nginx's callback, (c) libticketring's. */
    SSL *ssl_a, *ssl_b, *ssl_c;
    /* The same for the what-if variant (x) (bn_attach_copy); NULL skips it. */
    SSL *ssl_x;
    /* (c)'s callback as the glue installs it: the HMAC_CTX one where
     * OpenSSL still has it, else the EVP_MAC one; both NULL skips (c). */
    bn_legacy_cb glue_legacy_cb;
    be_evp_cb glue_cb;
    /* (c)'s ring, for the key lookup step; NULL skips it. */
    tr_ring *ring;
    int rounds;
    double seconds; /* per row and round */
};

/* What the closing summary quotes (0 when (c) was not measured). */
struct bc_result {
    double c_ns, b_ns;       /* seal + open, whole path, medians */
    double c_cb_ns, b_cb_ns; /* seal + open, the callback alone */
};

/* Runs the section and prints it. 0, or -1 when a path misbehaves. */
int bc_run(const struct bc_inputs *in, struct bc_result *res);

#endif
