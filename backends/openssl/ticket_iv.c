#include "ticket_iv.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "fork.h"

#define BATCH 64

struct iv_cache {
    uint64_t owner; /* tri_process_id() of the process that drew buf */
    unsigned next;  /* first unused IV; BATCH when empty */
    uint8_t buf[BATCH][TRI_OSSL_IV_BYTES];
};

static _Thread_local struct iv_cache cache = {0, BATCH, {{0}}};

int tri_ossl_ticket_iv(uint8_t iv[TRI_OSSL_IV_BYTES])
{
    uint64_t me = tri_process_id();

    if (cache.next >= BATCH || cache.owner != me) {
        int ok;
        ERR_set_mark();
        ok = RAND_bytes(&cache.buf[0][0], (int)sizeof(cache.buf)) == 1;
        ERR_pop_to_mark();
        if (!ok) {
            cache.next = BATCH;
            return TR_E_CRYPTO;
        }
        cache.owner = me;
        cache.next = 0;
    }
    memcpy(iv, cache.buf[cache.next], TRI_OSSL_IV_BYTES);
    /* Used once: a copy of this memory (a core dump) must not predict the next ones. */
    memset(cache.buf[cache.next], 0, TRI_OSSL_IV_BYTES);
    cache.next++;
    return 0;
}
