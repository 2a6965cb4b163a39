/*
 * The flavour of liburcu an example is built for, chosen at compile time
 * as a program built for liburcu chooses it: -DUSE_QSBR (-lurcu-qsbr),
 * -DUSE_MB (-lurcu-mb), -DUSE_BP (-lurcu-bp), otherwise memb
 * (-lurcu-memb). Defines FLAVOUR (its name) and reader_quiescent(), a
 * quiescent state on QSBR and nothing on the other flavours.
 */
#ifndef RCU_CAPI_EXAMPLE_FLAVOUR_H
#define RCU_CAPI_EXAMPLE_FLAVOUR_H

#if defined(USE_QSBR)
#include <urcu-qsbr.h>
#define FLAVOUR "qsbr"
#define reader_quiescent() rcu_quiescent_state()
#elif defined(USE_MB)
#define RCU_MB
#include <urcu.h>
#define FLAVOUR "mb"
#elif defined(USE_BP)
#include <urcu-bp.h>
#define FLAVOUR "bp"
#else
#define RCU_MEMB
#include <urcu.h>
#define FLAVOUR "memb"
#endif

#ifndef reader_quiescent
#define reader_quiescent() do { } while (0)
#endif

#endif
