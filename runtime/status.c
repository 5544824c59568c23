/*  status.c — names and descriptions of orcs_status.
    SPDX-License-Identifier: MPL-2.0 */
#include "orcs/status.h"

#include <string.h>

const char *
orcs_status_str(orcs_status status)
{
    switch (status) {
#define XX(name, value, text) \
    case ORCS_##name:         \
        return text;
        ORCS_STATUS_MAP(XX)
#undef XX
    }
    return "unknown status";
}

const char *
orcs_status_name(orcs_status status)
{
    switch (status) {
#define XX(name, value, text) \
    case ORCS_##name:         \
        return #name;
        ORCS_STATUS_MAP(XX)
#undef XX
    }
    return "EUNKNOWN";
}

orcs_status
orcs_status_from_name(const char *name, orcs_status *status_p)
{
#define XX(sym, value, text)       \
    if (strcmp(name, #sym) == 0) { \
        *status_p = ORCS_##sym;    \
        return ORCS_OK;            \
    }
    ORCS_STATUS_MAP(XX)
#undef XX
    return ORCS_ENOTFOUND;
}
