/*
 * The pkg-config consumer: the same program as the meson subproject consumer,
 * built by tools/consumer-check.sh against an installed prefix with
 *   cc pkgconfig/main.c $(pkg-config --cflags --libs ticketring-openssl)
 * (or ticketring-mbedtls with -DCONSUMER_MBEDTLS). Only public headers and
 * installed libraries are used.
 */
#include "../subproject/main.c"
