// Byte patterns the kernel writes into memory nobody has initialized, so a driver that reads
// it sees something recognisable instead of a plausible zero. The values are the MSVC debug
// heap's, which Windows developers already know on sight.

/** Memory a routine hands out without zeroing it (ExAllocatePoolWithTag, contiguous, noncached). */
export const FILL_UNINITIALIZED = 0xcd
/** The data of a freed small pool block whose page stays mapped (other blocks still live there). */
export const FILL_FREED = 0xdd
/**
 * Bytes no one may write: the slack after a block up to its 16-byte (or page) rounding, and the
 * special-pool padding. The pool checks them when the block is freed.
 */
export const FILL_GUARD = 0xfd
