/* The crypto backend the tool was built with (tools/meson.build). */
#ifndef TICKETRING_TOOLS_KEYS_BACKEND_H
#define TICKETRING_TOOLS_KEYS_BACKEND_H

#if defined(TRK_BACKEND_OPENSSL)
#include <ticketring/openssl.h>
#define TRK_BACKEND() tr_crypto_openssl()
#elif defined(TRK_BACKEND_MBEDTLS)
#include <ticketring/mbedtls.h>
#define TRK_BACKEND() tr_crypto_mbedtls()
#else
#error "define TRK_BACKEND_OPENSSL or TRK_BACKEND_MBEDTLS"
#endif

#endif
