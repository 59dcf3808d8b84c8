/*
 * dmalab's ntddk.h: the kernel interface a non-WDM driver includes. Everything dmalab implements
 * of it is in wdm.h (written by the dmalab authors from the WDK documentation; see wdm.h).
 */
#ifndef DMALAB_NTDDK_H
#define DMALAB_NTDDK_H
#include <wdm.h>
#endif /* DMALAB_NTDDK_H */
