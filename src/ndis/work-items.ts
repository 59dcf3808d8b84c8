// NDIS I/O work items: NdisAllocateIoWorkItem, NdisQueueIoWorkItem, NdisFreeIoWorkItem (WDK
// pages of those names, "NDIS I/O Work Items"). All three are called at IRQL <= DISPATCH_LEVEL;
// the routine runs later "in a system thread context at IRQL = PASSIVE_LEVEL", with
// (WorkItemContext, NdisIoWorkItemHandle). A miniport passes the MiniportAdapterHandle or its
// NdisMiniportDriverHandle.
//
// NdisAllocateIoWorkItem calls IoAllocateWorkItem, whose IO_WORKITEM comes from nonpaged pool:
// a real pool block here, so an item never freed is a pool leak with the allocating line (and
// an NDIS resource still held at unload). A queued item runs as a clock event (the machine is
// busy until it has run); one item is queued once at a time, and freeing or re-queuing one that
// has not run yet is the driver's mistake.
import type { Timer } from '../hw/clock.js'
import { DISPATCH_LEVEL, PASSIVE_LEVEL } from '../kernel/irql.js'
import { requireIrql } from '../kernel/irql-checks.js'
import { tagValue } from '../kernel/tags.js'
import { POOL_TYPE } from '../kernel/wdm.js'
import type { NdisContext } from './context.js'

/** NDIS_IO_WORKITEM_FUNCTION: (WorkItemContext, NdisIoWorkItemHandle). */
export type NdisIoWorkItemFunction = (WorkItemContext: unknown, NdisIoWorkItemHandle: NdisIoWorkItem) => void

/** The handle NdisAllocateIoWorkItem hands out. */
export interface NdisIoWorkItem { readonly kind: 'io-work-item'; readonly id: number }

/** sizeof(IO_WORKITEM) on x64, and its pool tag ("IoWI" in pooltag.txt: "Io, Work Items"). */
export const IO_WORKITEM_BYTES = 0x58
const IO_WORKITEM_TAG = tagValue('IWoI')

interface ItemState {
  readonly handle: NdisIoWorkItem
  readonly block: number
  /** The clock event of the queued routine, null when it is not queued. */
  queued: Timer | null
}

export class IoWorkItems {
  private readonly ctx: NdisContext
  private readonly items = new Map<NdisIoWorkItem, ItemState>()
  /** Work item routines run (tests and reports). */
  ran = 0

  constructor(ctx: NdisContext) {
    this.ctx = ctx
  }

  NdisAllocateIoWorkItem(NdisObjectHandle: unknown): NdisIoWorkItem | null {
    const ctx = this.ctx
    const k = ctx.kernel
    const r = 'NdisAllocateIoWorkItem'
    k.log.throwIfStopped()
    if (!ctx.isAdapterOrDriverHandle(NdisObjectHandle)) {
      ctx.violation('ndis-bad-handle', `${r}: NdisObjectHandle is neither the MiniportAdapterHandle nor the NdisMiniportDriverHandle NDIS gave the driver`)
      return null
    }
    requireIrql(k, r, DISPATCH_LEVEL)
    const call = k.calls.allocation(r, IO_WORKITEM_BYTES)
    if (call.fail) return null
    const block = k.pool.allocate(POOL_TYPE.NonPagedPoolNx, IO_WORKITEM_BYTES, IO_WORKITEM_TAG, call.site === undefined ? {} : { site: call.site })
    if (block === 0) return null
    const handle: NdisIoWorkItem = { kind: 'io-work-item', id: ctx.handleId() }
    this.items.set(handle, { handle, block, queued: null })
    return handle
  }

  NdisQueueIoWorkItem(NdisIoWorkItemHandle: NdisIoWorkItem, Routine: NdisIoWorkItemFunction, WorkItemContext: unknown): void {
    const ctx = this.ctx
    const k = ctx.kernel
    const r = 'NdisQueueIoWorkItem'
    k.log.throwIfStopped()
    requireIrql(k, r, DISPATCH_LEVEL)
    const item = this.lookup(r, NdisIoWorkItemHandle)
    if (item === null) return
    if (typeof Routine !== 'function') {
      ctx.violation('ndis-bad-argument', `${r}: Routine is not a function`)
      return
    }
    if (item.queued !== null) {
      // An IO_WORKITEM is one queue entry: queuing it again before it ran corrupts the queue.
      ctx.violation('ndis-call-order', `${r} of work item #${item.handle.id}, which is already queued and has not run yet: allocate one work item per outstanding request`)
      return
    }
    item.queued = k.clock.schedule(0, `NDIS work item #${item.handle.id}`, () => this.run(item, Routine, WorkItemContext), { needsCpu: true })
  }

  NdisFreeIoWorkItem(NdisIoWorkItemHandle: NdisIoWorkItem): void {
    const ctx = this.ctx
    const k = ctx.kernel
    const r = 'NdisFreeIoWorkItem'
    k.log.throwIfStopped()
    requireIrql(k, r, DISPATCH_LEVEL)
    const item = this.lookup(r, NdisIoWorkItemHandle)
    if (item === null) return
    if (item.queued !== null) {
      ctx.violation('ndis-call-order', `${r} of work item #${item.handle.id}, which is queued and has not run yet: free it in its routine, or after it ran`)
      k.clock.cancel(item.queued)
      item.queued = null
    }
    this.items.delete(item.handle)
    k.pool.free(item.block, { routine: r })
  }

  /** Work items the driver still holds at unload (queued ones are dropped: their driver is gone). */
  leftovers(): string[] {
    const out: string[] = []
    for (const item of this.items.values()) {
      if (item.queued !== null) this.ctx.kernel.clock.cancel(item.queued)
      out.push(`I/O work item #${item.handle.id}${item.queued !== null ? ', queued and never run,' : ''} allocated (NdisFreeIoWorkItem not called)`)
      item.queued = null
    }
    return out
  }

  private lookup(routine: string, handle: unknown): ItemState | null {
    const item = this.items.get(handle as NdisIoWorkItem)
    if (item !== undefined) return item
    this.ctx.violation('ndis-bad-handle', `${routine}: NdisIoWorkItemHandle is not a work item from NdisAllocateIoWorkItem, or it was freed`)
    return null
  }

  private run(item: ItemState, routine: NdisIoWorkItemFunction, context: unknown): void {
    item.queued = null
    if (this.ctx.kernel.log.stopped) return
    this.ran++
    // The routine may free its own work item: that is the usual pattern, and legal once it runs.
    this.ctx.caller.call4('NDIS_IO_WORKITEM_FUNCTION', PASSIVE_LEVEL, routine, context, item.handle, undefined, undefined)
  }
}
