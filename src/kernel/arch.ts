// The two machine architectures dmalab's kernel runs as: what differs between 64-bit Windows
// and 32-bit Windows with PAE, in one place.
//
// - x64 (the default): kernel VAs at 0xF800_0000_0000 and up (the 48-bit form of Windows'
//   0xFFFFF800… addresses, kept below 2^53); a 16-byte POOL_HEADER and 16-byte pool
//   granularity (seed 002, S09, S22).
// - x86 with PAE: a 32-bit address space whose upper 2 GiB (0x8000_0000–0xFFFF_FFFF) is the
//   kernel's ("Windows Internals", x86 system address space: kernel and HAL images from
//   0x8000_0000, HAL-reserved from 0xFFC0_0000); physical addresses stay 36 bits and more, so
//   memory above 4 GiB is still there, as under PAE. The pool header is 8 bytes and small blocks
//   are carved in 8-byte units, 8-byte aligned (seed 002: "The pool header is 8 bytes long on
//   32-bit systems"; S09's 32-bit reading). Pointers are 32 bits, as wasm32's: C drivers
//   compiled to WebAssembly run on this machine, their pointers being kernel VAs.
import { MiB } from '../hw/address.js'

export type Arch = 'x64' | 'x86'
export const ARCHES: readonly Arch[] = ['x64', 'x86']

export interface ArchProfile {
  readonly arch: Arch
  readonly pointerBytes: 4 | 8
  /** The kernel's part of the address space: [vaBase, vaBase + vaSpan). */
  readonly vaBase: number
  readonly vaSpan: number
  /** Where the system's VA allocator starts handing out pages (regions below it are fixed). */
  readonly allocBase: number
  /** Where it stops (regions above it are reserved to the HAL). */
  readonly allocEnd: number
  /** sizeof(POOL_HEADER); small pool blocks are carved in units of the same size. */
  readonly poolHeaderBytes: 8 | 16
  /** Freed VA waits this many pages of later frees before it is reused (use-after-free). */
  readonly quarantinePages: number
  /** KERNEL_STACK_SIZE: 12 KiB on x86, 24 KiB on x64 (ntddk.h). */
  readonly kernelStackBytes: number
  /**
   * The alignment an interlocked list head (SLIST_HEADER, and the lookaside lists holding one)
   * needs: 16 bytes on 64-bit Windows, where it is updated with cmpxchg16b ("On 64-bit platforms,
   * this structure must be 16-byte aligned", WDK ExInitializeNPagedLookasideList); 8 on x86,
   * where the header is 8 bytes (cmpxchg8b).
   */
  readonly slistAlignment: 8 | 16
}

/** 4 TiB of kernel VA: page indices stay below 2^30, so `| 0` arithmetic is exact. */
const X64_SPAN = 4 * 1024 * 1024 * MiB

export const X64: ArchProfile = {
  arch: 'x64',
  pointerBytes: 8,
  vaBase: 0xf800_0000_0000,
  vaSpan: X64_SPAN,
  allocBase: 0xf800_0000_0000,
  allocEnd: 0xf800_0000_0000 + X64_SPAN,
  poolHeaderBytes: 16,
  quarantinePages: 1 << 18,
  kernelStackBytes: 24 * 1024,
  slistAlignment: 16,
}

/** x86: kernel and HAL images (never a driver's) from the start of system space. */
export const X86_VA_BASE = 0x8000_0000
/** x86: where a C driver's data and bss are linked and loaded (8 MiB). */
export const DRIVER_IMAGE_BASE = 0x8080_0000
export const DRIVER_IMAGE_END = 0x8100_0000
/** x86: HAL-reserved from here to the top of the address space. */
export const X86_HAL_RESERVED = 0xffc0_0000

export const X86: ArchProfile = {
  arch: 'x86',
  pointerBytes: 4,
  vaBase: X86_VA_BASE,
  vaSpan: 0x8000_0000,
  allocBase: DRIVER_IMAGE_END,
  allocEnd: X86_HAL_RESERVED,
  poolHeaderBytes: 8,
  // 256 MiB of freed VA in quarantine: a quarter of what is left of 2 GiB after the images.
  quarantinePages: 1 << 16,
  kernelStackBytes: 12 * 1024,
  slistAlignment: 8,
}

export function archProfile(arch: Arch): ArchProfile {
  return arch === 'x86' ? X86 : X64
}
