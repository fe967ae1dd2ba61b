#include "ticketring/ticketring.h"

/* The macros as functions, for callers that cannot read C headers. */
size_t tr_key_bytes(void) { return TR_KEY_BYTES; }
size_t tr_key_name_bytes(void) { return TR_KEY_NAME_BYTES; }
size_t tr_ring_max_keys(void) { return TR_RING_MAX_KEYS; }
size_t tr_fingerprint_hex(void) { return TR_FINGERPRINT_HEX; }
size_t tr_ticket_max_state(void) { return TR_TICKET_MAX_STATE; }
size_t tr_ticket_overhead(void) { return TR_TICKET_OVERHEAD; }
size_t tr_ticket_max_bytes(void) { return TR_TICKET_MAX_BYTES; }
