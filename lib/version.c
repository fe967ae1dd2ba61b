#include "ticketring/ticketring.h"

uint32_t tr_version(void) { return TR_VERSION_NUMBER; }
const char *tr_version_string(void) { return TR_VERSION_STRING; }
