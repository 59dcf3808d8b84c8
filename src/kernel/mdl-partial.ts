// IoBuildPartialMdl (WDK page of that name): a target MDL the caller allocated describes a
// subrange of the buffer a source MDL describes. "This value, in combination with VirtualAddress,
// must specify a buffer that is a proper subrange of the buffer that is described by SourceMdl.
// If Length is zero, the subrange ... includes the remaining range described by the SourceMdl."
// "The physical pages that the source MDL describes must be locked before the driver calls
// IoBuildPartialMdl" (MmProbeAndLockPages, MmBuildMdlForNonPagedPool, MmAllocatePagesForMdl[Ex]),
// and the target "must be large enough to describe the pages in the subrange".
//
// The target shares the source's pages and, when the source is mapped in system space, that
// mapping ("the partial MDL shares that mapping and there is no need to map it again"). It is
// MDL_PARTIAL; it does not own the lock, so the source must outlive it.
//
// A subrange outside the source, an unlocked source or a target too small is the driver passing
// invalid parameters to a memory routine, 0xC4/0x16 (bug check 0xC4 reference); nothing is built.
import { PAGE_SIZE, hex, pageOffset, pagesSpanned } from '../hw/address.js'
import type { Kernel } from './kernel.js'
import { BAD_MEMORY_ROUTINE_PARAMETERS, type MDL } from './mdl.js'
import { MDL_FLAGS } from './wdm.js'

const LOCKED = MDL_FLAGS.MDL_PAGES_LOCKED | MDL_FLAGS.MDL_SOURCE_IS_NONPAGED_POOL
/** Flags the partial MDL inherits from its source (what its pages are and where they are mapped). */
const INHERITED = MDL_FLAGS.MDL_SOURCE_IS_NONPAGED_POOL | MDL_FLAGS.MDL_MAPPED_TO_SYSTEM_VA | MDL_FLAGS.MDL_IO_SPACE | MDL_FLAGS.MDL_WRITE_OPERATION

/** The first byte's virtual address of what an MDL describes (MmGetMdlVirtualAddress). */
export const mdlVirtualAddress = (mdl: MDL): number => mdl.StartVa + mdl.ByteOffset

/** Whether the MDL's pages are locked down (built, probed and locked, or MmAllocatePagesForMdl's own pages). */
export function mdlPagesLocked(kernel: Kernel, mdl: MDL): boolean {
  if ((mdl.MdlFlags & LOCKED) !== 0) return true
  const state = kernel.mdl.stateOf(mdl)
  return state !== undefined && state.origin === 'pages' && state.pagesLive
}

export function buildPartialMdl(kernel: Kernel, source: MDL, target: MDL, virtualAddress: number, length: number, routine = 'IoBuildPartialMdl'): boolean {
  const mdls = kernel.mdl
  mdls.require(source, routine)
  const targetState = mdls.require(target, routine)
  const start = mdlVirtualAddress(source)
  const end = start + source.ByteCount
  const bytes = length === 0 ? end - virtualAddress : length
  const bad = (why: string): boolean => {
    mdls.misuse(target, [BAD_MEMORY_ROUTINE_PARAMETERS, 0, virtualAddress, 0], `${routine}: ${why}`)
    return false
  }
  if (!Number.isSafeInteger(virtualAddress) || !Number.isSafeInteger(length) || length < 0) return bad(`VirtualAddress ${String(virtualAddress)} and Length ${String(length)} are not an address and a byte count`)
  if (virtualAddress < start || bytes <= 0 || virtualAddress + bytes > end) {
    return bad(`${hex(virtualAddress)} + ${bytes} bytes is not a subrange of the source MDL's buffer ${hex(start)}..${hex(end)}`)
  }
  if (!mdlPagesLocked(kernel, source)) return bad('the source MDL\'s pages are not locked (MmProbeAndLockPages, MmBuildMdlForNonPagedPool or MmAllocatePagesForMdl first)')
  const pages = pagesSpanned(virtualAddress, bytes)
  if (target.PfnArray.length < pages) return bad(`the target MDL describes at most ${target.PfnArray.length} pages and the subrange spans ${pages} (allocate it with IoAllocateMdl(VirtualAddress, Length))`)
  if (targetState.mapping !== null) return bad('the target MDL is still mapped (MmPrepareMdlForReuse or MmUnmapLockedPages first)')

  const firstPage = Math.floor((virtualAddress - source.StartVa) / PAGE_SIZE)
  for (let i = 0; i < target.PfnArray.length; i++) target.PfnArray[i] = i < pages ? source.PfnArray[firstPage + i]! : -1
  target.StartVa = virtualAddress - pageOffset(virtualAddress)
  target.ByteOffset = pageOffset(virtualAddress)
  target.ByteCount = bytes
  target.Process = source.Process
  const mapped = (source.MdlFlags & (MDL_FLAGS.MDL_MAPPED_TO_SYSTEM_VA | MDL_FLAGS.MDL_SOURCE_IS_NONPAGED_POOL)) !== 0 && source.MappedSystemVa !== 0
  target.MappedSystemVa = mapped ? source.MappedSystemVa + (virtualAddress - start) : 0
  // MDL_MAPPED_TO_SYSTEM_VA comes from the source: MmGetSystemAddressForMdlSafe on the partial
  // MDL returns the shared mapping instead of making one.
  target.MdlFlags = (target.MdlFlags & MDL_FLAGS.MDL_ALLOCATED_FIXED_SIZE) | (mapped ? source.MdlFlags & INHERITED : source.MdlFlags & INHERITED & ~MDL_FLAGS.MDL_MAPPED_TO_SYSTEM_VA) | MDL_FLAGS.MDL_PARTIAL
  return true
}
