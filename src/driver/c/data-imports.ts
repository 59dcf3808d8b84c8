// The NDIS data-path routines a C miniport imports (ndis.h): NET_BUFFER_LIST pools and MDLs,
// scatter/gather DMA and shared memory, the interrupt, spin locks, send completion and receive
// indication. Each adapter calls the routine a TypeScript driver calls (the `ndis` object), with
// the driver's structures read from memory in their 32-bit layouts and NDIS's objects written
// there (net-objects.ts). The handlers a driver registers here (MiniportInterrupt,
// MiniportInterruptDPC, MiniportProcessSGList, ...) are called through its function pointers.
import type { NDIS_SPIN_LOCK } from '../../ndis/types.js'
import { byValue64, routine, write64, type CRoutines } from './imports.js'
import type { CDriverInstance } from './instance.js'
import { readField, writeField } from './layout.js'
import type { CMiniportBridge } from './miniport.js'
import { sgListSizeX86, type CNetObjects } from './net-objects.js'
import {
  NDIS_MINIPORT_INTERRUPT_CHARACTERISTICS as INTERRUPT, NDIS_SG_DMA_DESCRIPTION as SG_DMA, NDIS_SPIN_LOCK as SPIN_LOCK,
  NET_BUFFER_LIST_POOL_PARAMETERS as POOL_PARAMETERS, RECEIVE_THROTTLE,
} from './structs-net.js'

const u = (x: number): number => x >>> 0

export function dataRoutines(c: CDriverInstance, bridge: CMiniportBridge, objects: CNetObjects): CRoutines {
  const n = (): CDriverInstance['ndis'] => c.ndis
  const mem = c.kernel.memory
  /** NDIS_SPIN_LOCKs by the address of the driver's structure. */
  const locks = new Map<number, NDIS_SPIN_LOCK>()
  const lockAt = (va: number): NDIS_SPIN_LOCK => locks.get(u(va)) as NDIS_SPIN_LOCK
  /** Scratch for the out-parameters and structures NDIS passes handlers (system memory, as NDIS's own). */
  let scratch = 0
  const scratchBlock = (): number => {
    if (scratch === 0) scratch = c.allocate(16)
    if (scratch === 0) throw new Error('no memory for NDIS\'s handler parameters')
    return scratch
  }

  return {
    NdisAllocateSpinLock: routine('i', '', (va: number) => {
      const { spinLock } = n().NdisAllocateSpinLock()
      locks.set(u(va), spinLock)
      writeField(mem, u(va), SPIN_LOCK, 'SpinLock', 0)
      writeField(mem, u(va), SPIN_LOCK, 'OldIrql', 0)
    }),
    NdisFreeSpinLock: routine('i', '', (va: number) => {
      n().NdisFreeSpinLock(lockAt(va))
      locks.delete(u(va))
    }),
    NdisAcquireSpinLock: routine('i', '', (va: number) => {
      const lock = lockAt(va)
      n().NdisAcquireSpinLock(lock)
      writeField(mem, u(va), SPIN_LOCK, 'OldIrql', lock.OldIrql)
    }),
    NdisReleaseSpinLock: routine('i', '', (va: number) => n().NdisReleaseSpinLock(lockAt(va))),
    NdisDprAcquireSpinLock: routine('i', '', (va: number) => n().NdisDprAcquireSpinLock(lockAt(va))),
    NdisDprReleaseSpinLock: routine('i', '', (va: number) => n().NdisDprReleaseSpinLock(lockAt(va))),

    // NDIS_STATUS NdisMRegisterInterruptEx(NDIS_HANDLE, NDIS_HANDLE Context, PNDIS_MINIPORT_INTERRUPT_CHARACTERISTICS, PNDIS_HANDLE)
    NdisMRegisterInterruptEx: routine('iiii', 'i', (handle: number, context: number, chars: number, handleOut: number) => {
      const f = (field: string): number => readField(mem, u(chars), INTERRUPT, field)
      const isr = bridge.callable(f('InterruptHandler'), 'MiniportInterrupt')
      const dpc = bridge.callable(f('InterruptDpcHandler'), 'MiniportInterruptDPC')
      const out = scratchBlock()
      const { status, ndisInterruptHandle } = n().NdisMRegisterInterruptEx(c.object(handle) as never, u(context), {
        // BOOLEAN MiniportInterrupt(NDIS_HANDLE Context, PBOOLEAN QueueDefaultInterruptDpc, PULONG TargetProcessors)
        InterruptHandler: (ctx) => {
          mem.write8(out, 0)
          mem.write32(out + 4, 0)
          const recognized = (isr(u(ctx as number), out, out + 4) & 0xff) !== 0
          return { interruptRecognized: recognized, queueDefaultInterruptDpc: mem.read8(out) !== 0 }
        },
        // VOID MiniportInterruptDPC(NDIS_HANDLE Context, PVOID DpcContext, PVOID ReceiveThrottleParameters, PVOID Reserved)
        InterruptDpcHandler: (ctx, _dpcContext, throttle) => {
          const t = out + 8
          mem.write32(t + RECEIVE_THROTTLE.MaxNblsToIndicate, throttle.MaxNblsToIndicate >>> 0)
          mem.write32(t + RECEIVE_THROTTLE.MoreNblsPending, 0)
          dpc(u(ctx as number), 0, t, 0)
          throttle.MoreNblsPending = (mem.read32(t + RECEIVE_THROTTLE.MoreNblsPending) & 1) !== 0
        },
      })
      mem.write32(u(handleOut), c.handle(ndisInterruptHandle))
      return status
    }),
    NdisMDeregisterInterruptEx: routine('i', '', (handle: number) => n().NdisMDeregisterInterruptEx(c.object(handle) as never)),
    // BOOLEAN NdisMSynchronizeWithInterruptEx(NDIS_HANDLE, ULONG MessageId, MINIPORT_SYNCHRONIZE_INTERRUPT_HANDLER, PVOID Context)
    NdisMSynchronizeWithInterruptEx: routine('iiii', 'i', (handle: number, message: number, fn: number, context: number) => {
      const sync = bridge.callable(fn, 'MiniportSynchronizeInterrupt')
      return n().NdisMSynchronizeWithInterruptEx(c.object(handle) as never, message, (ctx: number) => (sync(ctx) & 0xff) !== 0, u(context)) ? 1 : 0
    }),

    // NDIS_STATUS NdisMRegisterScatterGatherDma(NDIS_HANDLE, PNDIS_SG_DMA_DESCRIPTION, PNDIS_HANDLE)
    NdisMRegisterScatterGatherDma: routine('iii', 'i', (handle: number, description: number, handleOut: number) => {
      const va = u(description)
      const f = (field: string): number => readField(mem, va, SG_DMA, field)
      const process = bridge.callable(f('ProcessSGListHandler'), 'MiniportProcessSGList')
      const completePointer = f('SharedMemAllocateCompleteHandler')
      const complete = bridge.callable(completePointer, 'MiniportSharedMemoryAllocateComplete')
      const d = {
        Header: { Type: f('Header.Type'), Revision: f('Header.Revision'), Size: f('Header.Size') },
        Flags: f('Flags'),
        MaximumPhysicalMapping: f('MaximumPhysicalMapping'),
        // VOID MiniportProcessSGList(PDEVICE_OBJECT, PVOID Reserved, PSCATTER_GATHER_LIST, PVOID Context)
        ProcessSGListHandler: (pdo: unknown, _reserved: null, sgl: Parameters<CNetObjects['sglToC']>[0], context: unknown) =>
          void process(c.handle(pdo as object), 0, objects.sglToC(sgl), u(context as number)),
        ...(completePointer === 0 ? {} : {
          // VOID MiniportSharedMemoryAllocateComplete(NDIS_HANDLE, PVOID, PNDIS_PHYSICAL_ADDRESS, ULONG, PVOID)
          SharedMemAllocateCompleteHandler: (context: unknown, virtualAddress: number, physicalAddress: number, length: number, ctx: unknown) => {
            const pa = scratchBlock()
            write64(c, pa, physicalAddress)
            complete(u(context as number), virtualAddress, pa, length, u(ctx as number))
          },
        }),
        ScatterGatherListSize: 0,
      }
      const { status, ndisMiniportDmaHandle } = n().NdisMRegisterScatterGatherDma(c.object(handle) as never, d as never)
      // In/out: the list buffer a maximal packet needs, in x86's SCATTER_GATHER_LIST layout.
      if (ndisMiniportDmaHandle !== null) writeField(mem, va, SG_DMA, 'ScatterGatherListSize', sgListSizeX86(Math.ceil(d.MaximumPhysicalMapping / 4096) + 1))
      mem.write32(u(handleOut), c.handle(ndisMiniportDmaHandle))
      return status
    }),
    NdisMDeregisterScatterGatherDma: routine('i', '', (handle: number) => n().NdisMDeregisterScatterGatherDma(c.object(handle) as never)),
    // VOID NdisMAllocateSharedMemory(NDIS_HANDLE, ULONG Length, BOOLEAN Cached, PVOID *VirtualAddress, PNDIS_PHYSICAL_ADDRESS)
    NdisMAllocateSharedMemory: routine('iiiii', '', (handle: number, length: number, cached: number, vaOut: number, paOut: number) => {
      const { virtualAddress, physicalAddress } = n().NdisMAllocateSharedMemory(c.object(handle) as never, u(length), (cached & 0xff) !== 0)
      mem.write32(u(vaOut), virtualAddress)
      write64(c, u(paOut), virtualAddress === 0 ? 0 : physicalAddress)
    }),
    // VOID NdisMFreeSharedMemory(NDIS_HANDLE, ULONG Length, BOOLEAN Cached, PVOID VirtualAddress, NDIS_PHYSICAL_ADDRESS)
    NdisMFreeSharedMemory: routine('iiiii', '', (handle: number, length: number, cached: number, va: number, pa: number) =>
      n().NdisMFreeSharedMemory(c.object(handle) as never, u(length), (cached & 0xff) !== 0, u(va), byValue64(c, pa))),
    NdisMAllocateSharedMemoryAsyncEx: routine('iiii', 'i', (handle: number, length: number, cached: number, context: number) =>
      n().NdisMAllocateSharedMemoryAsyncEx(c.object(handle) as never, u(length), (cached & 0xff) !== 0, u(context))),
    NdisMGetDmaAlignment: routine('i', 'i', (handle: number) => n().NdisMGetDmaAlignment(c.object(handle) as never)),
    // NDIS_STATUS NdisMAllocateNetBufferSGList(NDIS_HANDLE, PNET_BUFFER, PVOID Context, ULONG Flags, PVOID Buffer, ULONG BufferSize)
    NdisMAllocateNetBufferSGList: routine('iiiiii', 'i', (handle: number, nb: number, context: number, flags: number, buffer: number, size: number) => {
      // A driver's own list buffer is filled in place when it is big enough for the list, as NDIS does.
      const into = buffer === 0 ? null : objects.driverBuffer(buffer)
      return n().NdisMAllocateNetBufferSGList(c.object(handle) as never, objects.nb(nb) as never, u(context), u(flags), into, into === null ? 0 : fitsAsX64(u(size)))
    }),
    NdisMFreeNetBufferSGList: routine('iii', '', (handle: number, sgl: number, nb: number) => {
      const list = objects.sgl(sgl)
      n().NdisMFreeNetBufferSGList(c.object(handle) as never, list as never, objects.nb(nb) as never)
      objects.releaseSgl(list)
    }),

    // NDIS_HANDLE NdisAllocateNetBufferListPool(NDIS_HANDLE, PNET_BUFFER_LIST_POOL_PARAMETERS)
    NdisAllocateNetBufferListPool: routine('ii', 'i', (handle: number, params: number) => {
      const f = (field: string): number => readField(mem, u(params), POOL_PARAMETERS, field)
      const pool = n().NdisAllocateNetBufferListPool(c.object(handle) as never, {
        Header: { Type: f('Header.Type'), Revision: f('Header.Revision'), Size: f('Header.Size') },
        ProtocolId: f('ProtocolId'),
        fAllocateNetBuffer: f('fAllocateNetBuffer') !== 0,
        ContextSize: f('ContextSize'),
        PoolTag: f('PoolTag'),
        DataSize: f('DataSize'),
      })
      return c.handle(pool)
    }),
    NdisFreeNetBufferListPool: routine('i', '', (pool: number) => n().NdisFreeNetBufferListPool(c.object(pool) as never)),
    // PNET_BUFFER_LIST NdisAllocateNetBufferAndNetBufferList(NDIS_HANDLE, USHORT, USHORT, PMDL, ULONG, SIZE_T)
    NdisAllocateNetBufferAndNetBufferList: routine('iiiiii', 'i', (pool: number, contextSize: number, backfill: number, mdl: number, offset: number, length: number) => {
      const nbl = n().NdisAllocateNetBufferAndNetBufferList(c.object(pool) as never, contextSize & 0xffff, backfill & 0xffff, objects.mdl(mdl) as never, u(offset), u(length))
      if (nbl === null) return 0
      return objects.toC(nbl)
    }),
    NdisFreeNetBufferList: routine('i', '', (nbl: number) => {
      n().NdisFreeNetBufferList(objects.nbl(nbl) as never)
      objects.forget(nbl)
    }),
    // PMDL NdisAllocateMdl(NDIS_HANDLE, PVOID VirtualAddress, UINT Length)
    NdisAllocateMdl: routine('iii', 'i', (handle: number, va: number, length: number) => {
      const mdl = n().NdisAllocateMdl(c.object(handle) as never, u(va), u(length))
      return mdl === null ? 0 : objects.writeMdl(mdl)
    }),
    NdisFreeMdl: routine('i', '', (mdl: number) => n().NdisFreeMdl(objects.mdl(mdl) as never)),

    NdisMSendNetBufferListsComplete: routine('iii', '', (handle: number, nbls: number, flags: number) =>
      n().NdisMSendNetBufferListsComplete(c.object(handle) as never, objects.fromC(nbls) as never, u(flags))),
    NdisMIndicateReceiveNetBufferLists: routine('iiiii', '', (handle: number, nbls: number, port: number, count: number, flags: number) =>
      n().NdisMIndicateReceiveNetBufferLists(c.object(handle) as never, objects.fromC(nbls) as never, u(port), u(count), u(flags))),
  }
}

/**
 * The size to tell NDIS's list builder a driver's x86 list buffer has, in the x64 units it
 * counts: enough for as many elements as the buffer holds in x86's layout.
 */
function fitsAsX64(x86Bytes: number): number {
  const elements = Math.max(0, Math.floor((x86Bytes - sgListSizeX86(0)) / (sgListSizeX86(1) - sgListSizeX86(0))))
  return 16 + 24 * elements
}
