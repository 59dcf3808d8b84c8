// NDIS 6 timer objects and I/O work items against their WDK pages: NdisAllocateTimerObject
// (<= DISPATCH_LEVEL; NDIS_STATUS_BAD_CHARACTERISTICS for invalid NDIS_TIMER_CHARACTERISTICS),
// NdisSetTimerObject (DueTime in 100 ns units, negative relative; TRUE when the timer was
// already queued; MillisecondsPeriod makes it periodic), NdisCancelTimerObject (TRUE when it was
// queued; a periodic timer is cancelled at PASSIVE_LEVEL), NetTimerCallback at DISPATCH_LEVEL;
// NdisAllocateIoWorkItem / NdisQueueIoWorkItem / NdisFreeIoWorkItem (<= DISPATCH_LEVEL; the
// routine runs "in a system thread context at IRQL = PASSIVE_LEVEL").
import { describe, expect, it } from 'vitest'
import { tagName, tagValue } from '../../src/kernel/tags.js'
import { kinds, loadTestMiniport, theFinding, type Loaded } from '../support/driver-fixture.js'

const MS = 1_000_000
const chars = (l: Loaded, fn: (c: unknown) => void, context: unknown = 'ctx') => ({
  Header: { Type: l.ndis.NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS, Revision: l.ndis.NDIS_TIMER_CHARACTERISTICS_REVISION_1, Size: 0 },
  AllocationTag: 'mTtD',
  TimerFunction: (_s1: unknown, c: unknown) => fn(c),
  FunctionContext: context,
})

describe('NDIS timer objects run on virtual time', () => {
  it('a one-shot timer fires once at DISPATCH_LEVEL after its relative DueTime, with the default context; cancel and free leave nothing behind', () => {
    const l = loadTestMiniport()
    const seen: Array<[unknown, number, number]> = []
    const { status, timerObject } = l.ndis.NdisAllocateTimerObject(l.a.handle, chars(l, (c) => seen.push([c, l.ndis.KeGetCurrentIrql(), l.m.clock.now])))
    expect(status).toBe(l.ndis.NDIS_STATUS_SUCCESS)
    const start = l.m.clock.now
    expect(l.ndis.NdisSetTimerObject(timerObject!, -10 * 10_000, 0, null)).toBe(false) // 10 ms, relative
    expect(l.ndis.NdisSetTimerObject(timerObject!, -20 * 10_000, 0, null)).toBe(true) // re-set while queued: moved
    l.m.run({ ns: 50 * MS })
    expect(seen).toEqual([['ctx', l.ndis.DISPATCH_LEVEL, start + 20 * MS]])
    expect(l.ndis.NdisCancelTimerObject(timerObject!)).toBe(false)
    l.ndis.NdisFreeTimerObject(timerObject!)
    l.m.halt()
    expect(kinds(l.m)).toEqual([])
  })

  it('a periodic timer fires every MillisecondsPeriod until NdisCancelTimerObject (TRUE: it was queued), with the context NdisSetTimerObject gave', () => {
    const l = loadTestMiniport()
    const seen: unknown[] = []
    const { timerObject } = l.ndis.NdisAllocateTimerObject(l.a.handle, chars(l, (c) => seen.push(c)))
    l.ndis.NdisSetTimerObject(timerObject!, -10_000, 5, 'mine')
    l.m.run({ ns: 17 * MS })
    expect(seen).toEqual(['mine', 'mine', 'mine', 'mine'])
    expect(l.ndis.NdisCancelTimerObject(timerObject!)).toBe(true)
    l.m.run({ ns: 20 * MS })
    expect(seen).toHaveLength(4)
    l.ndis.NdisFreeTimerObject(timerObject!)
  })

  it('invalid characteristics are NDIS_STATUS_BAD_CHARACTERISTICS; a timer object never freed is reported at unload and its pool is a leak', () => {
    const l = loadTestMiniport()
    const bad = { ...chars(l, () => {}), TimerFunction: 42 }
    expect(l.ndis.NdisAllocateTimerObject(l.a.handle, bad as never)).toEqual({ status: l.ndis.NDIS_STATUS_BAD_CHARACTERISTICS, timerObject: null })
    expect(theFinding(l.m, 'ndis-bad-argument').message).toContain('TimerFunction is not a function')
    const { timerObject } = l.ndis.NdisAllocateTimerObject(l.a.handle, chars(l, () => {}))
    l.ndis.NdisSetTimerObject(timerObject!, -1_000_000, 100, null)
    l.m.halt()
    const shown = tagName(tagValue('mTtD'))
    expect(theFinding(l.m, 'ndis-resource-leak').message).toContain(`('${shown}'), still queued, allocated (NdisFreeTimerObject not called)`)
    expect(l.m.findings.filter((f) => f.kind === 'pool-leak').map((f) => f.details?.['tag'])).toContain(shown)
  })

  it('cancelling a periodic timer above PASSIVE_LEVEL is an IRQL violation (NdisCancelTimerObject Remarks)', () => {
    const l = loadTestMiniport()
    const { timerObject } = l.ndis.NdisAllocateTimerObject(l.a.handle, chars(l, () => {}))
    l.ndis.NdisSetTimerObject(timerObject!, -10_000, 5, null)
    const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
    l.ndis.NdisCancelTimerObject(timerObject!)
    l.ndis.KeLowerIrql(oldIrql)
    expect(theFinding(l.m, 'irql-violation').message).toContain('NdisCancelTimerObject at DISPATCH_LEVEL')
    l.ndis.NdisFreeTimerObject(timerObject!)
  })

  it('NdisAllocateTimerObject is fault-injectable: NDIS_STATUS_RESOURCES', () => {
    const l = loadTestMiniport({ faults: 'routine=NdisAllocateTimerObject' })
    expect(l.ndis.NdisAllocateTimerObject(l.a.handle, chars(l, () => {}))).toEqual({ status: l.ndis.NDIS_STATUS_RESOURCES, timerObject: null })
  })
})

describe('NDIS I/O work items', () => {
  it('a queued work item runs later at PASSIVE_LEVEL with its context and handle, and may free itself', () => {
    const l = loadTestMiniport()
    const item = l.ndis.NdisAllocateIoWorkItem(l.a.handle)!
    const seen: unknown[] = []
    const { oldIrql } = l.ndis.KeRaiseIrql(l.ndis.DISPATCH_LEVEL)
    l.ndis.NdisQueueIoWorkItem(item, (c, h) => {
      seen.push(c, h === item, l.ndis.KeGetCurrentIrql())
      l.ndis.NdisFreeIoWorkItem(h)
    }, 'work')
    l.ndis.KeLowerIrql(oldIrql)
    expect(seen).toEqual([])
    l.m.runUntilIdle()
    expect(seen).toEqual(['work', true, l.ndis.PASSIVE_LEVEL])
    l.m.halt()
    expect(kinds(l.m)).toEqual([])
  })

  it('queuing an item that has not run yet, or freeing it, is the driver\'s mistake; one never freed is reported at unload', () => {
    const l = loadTestMiniport()
    const item = l.ndis.NdisAllocateIoWorkItem(l.a.handle)!
    l.ndis.NdisQueueIoWorkItem(item, () => {}, null)
    l.ndis.NdisQueueIoWorkItem(item, () => {}, null)
    expect(theFinding(l.m, 'ndis-call-order').message).toContain('already queued')
    l.ndis.NdisFreeIoWorkItem(item)
    expect(l.m.findings.filter((f) => f.kind === 'ndis-call-order')).toHaveLength(2)
    l.ndis.NdisAllocateIoWorkItem(l.a.handle)
    l.m.halt()
    expect(theFinding(l.m, 'ndis-resource-leak').message).toMatch(/I\/O work item #\d+ allocated \(NdisFreeIoWorkItem not called\)/)
  })

  it('NdisAllocateIoWorkItem is fault-injectable (NULL) and refuses a handle NDIS did not give', () => {
    const l = loadTestMiniport({ faults: 'routine=NdisAllocateIoWorkItem' })
    expect(l.ndis.NdisAllocateIoWorkItem(l.a.handle)).toBeNull()
    expect(l.ndis.NdisAllocateIoWorkItem({})).toBeNull()
    expect(kinds(l.m)).toEqual(['ndis-bad-handle'])
  })
})
