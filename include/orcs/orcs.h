/*  orcs/orcs.h — the whole public API of orcs.
    SPDX-License-Identifier: MPL-2.0 */
#ifndef ORCS_H_INCLUDED
#define ORCS_H_INCLUDED

#define ORCS_VERSION_MAJOR 0
#define ORCS_VERSION_MINOR 1
#define ORCS_VERSION_PATCH 0
#define ORCS_VERSION       "0.1.0"

#include "orcs/actor.h"
#include "orcs/artifact.h"
#include "orcs/config.h"
#include "orcs/doc.h"
#include "orcs/log.h"
#include "orcs/memory.h"
#include "orcs/msg.h"
#include "orcs/node.h"
#include "orcs/record.h"
#include "orcs/status.h"
#include "orcs/store.h"
#include "orcs/sys.h"
#include "orcs/yaml.h"

#endif
