/*
 * The e1000 miniport in C (examples/c/e1000) but its DriverEntry, compiled into the buggy example
 * that includes this: each buggy example is that driver with one piece of its memory table
 * (e1000.h, E1000_MEMORY) replaced by a wrong one, registered by its own DriverEntry. memory.c's
 * own entries stay visible, so an example replaces only what it gets wrong.
 */
#ifndef E1000_PARTS_H
#define E1000_PARTS_H
#include "../e1000/e1000.h"
#include "../e1000/miniport.c"
#include "../e1000/init.c"
#include "../e1000/halt.c"
#include "../e1000/send.c"
#include "../e1000/receive.c"
#include "../e1000/interrupt.c"
#include "../e1000/oid.c"
#include "../e1000/filter.c"
#include "../e1000/memory.c"
#endif
