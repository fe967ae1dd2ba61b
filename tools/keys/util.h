/*
 * ticketring-keys: what every command shares (argument parsing, the one-line
 * error convention, loading a key file into a ring with a fixed clock).
 * The tool uses the public API only and links the installed libraries.
 */
#ifndef TICKETRING_TOOLS_KEYS_UTIL_H
#define TICKETRING_TOOLS_KEYS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <ticketring/ticketring.h>

#define PROG "ticketring-keys"
#define EXIT_USAGE 2
#define ACTIVATION_MAX (INT64_C(1) << 62) /* docs/key-file-format.md */
#define NOW_MAX (INT64_MAX / 1000)        /* the clock is in milliseconds */
#define LIFETIME_MAX 604800               /* the ring's ranges (ticketring.h) */
#define SKEW_MAX 3600
#define PERIOD_MAX 31536000
#define MAX_POS 64                        /* positional arguments */

/* One line on stderr: "ticketring-keys: " a b c; returns status. */
int trk_fail(int status, const char *a, const char *b, const char *c);
/* A usage error (exit status 2) with a pointer to --help. */
int trk_usage_error(const char *a, const char *b);

struct trk_opt {
    const char *name;  /* "--out" */
    int takes_value;
    const char *value; /* set when seen (flags: "") */
};

struct trk_args {
    struct trk_opt *opts;
    size_t n_opts;
    const char *pos[MAX_POS];
    size_t n_pos;
    int help;
};

/* Options and positional arguments in any order; "--opt value" and
 * "--opt=value"; "--" ends the options. Returns 0 or EXIT_USAGE (after
 * printing the error). */
int trk_parse_args(int argc, char **argv, struct trk_args *a, size_t max_pos);

#define TRK_GO_ON (-1)
#define TRK_ANY_POS ((size_t)-1)
/* A command's prologue: trk_parse_args(), then --help (prints `usage`) and
 * exactly `need` positional arguments (TRK_ANY_POS: not checked; else
 * `missing` is the usage error). TRK_GO_ON to carry on, else the exit
 * status for the command to return. */
int trk_begin(int argc, char **argv, struct trk_args *a, size_t max_pos, const char *usage,
              size_t need, const char *missing);
/* A decimal integer in [lo, hi], nothing else (no sign, no spaces). */
int trk_parse_int(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out);
/* --lifetime, --skew and --now as the ring takes them; a NULL value leaves
 * *out as it is. Returns 0 or EXIT_USAGE. */
int trk_parse_lifetime(const char *value, int64_t *out);
/* A key name as 'inspect' prints it (32 lowercase hex digits); 0 or -1. */
int trk_parse_key_name(const char *hex, uint8_t name[TR_KEY_NAME_BYTES]);
int trk_parse_skew(const char *value, int64_t *out);
int trk_parse_now(const char *value, int64_t *out);

/* tr_clock_fn reading the int64_t milliseconds at arg. */
int64_t trk_fixed_clock(void *arg);
/* A new ring on the tool's backend (prints the error). */
int trk_new_ring(tr_ring **ring);
/* A new ring whose clock reads *clock_ms, with the given lifetime and skew
 * (0 keeps the ring's default for either). Prints the error. */
int trk_new_ring_at(tr_ring **ring, int64_t *clock_ms, int64_t lifetime, int64_t skew);
/* Load FILE; on failure print "FILE:LINE: reason" and return 1. */
int trk_load(tr_ring *ring, const char *path);

/* The ring's last error line while a capture is on; warnings go to stderr
 * as "ticketring-keys: warning: ..." (they never hold key material). */
void trk_capture_log(tr_ring *ring);
const char *trk_last_error(void);

void trk_hex(char *out, const uint8_t *in, size_t n);
const char *trk_role_name(int32_t role);
/* "2026-01-01T00:00:00Z", or "-" when not representable. */
void trk_iso_time(int64_t t, char out[64]);

#endif
