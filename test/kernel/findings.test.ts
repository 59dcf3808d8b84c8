import { describe, expect, it } from 'vitest'
import { Clock } from '../../src/hw/clock.js'
import { BugCheck, BUGCHECK } from '../../src/kernel/bugcheck.js'
import { FindingsLog } from '../../src/kernel/findings.js'
import { DMALAB_P1, isDmalabP1 } from '../../src/kernel/kinds.js'

describe('findings log', () => {
  it('log mode records violations and goes on; a fatal finding stops the machine and unwinds', () => {
    const log = new FindingsLog(new Clock(), 'log')
    log.violation({ kind: 'pool-leak', message: 'leak' })
    expect(log.stopped).toBe(false)
    expect(log.findings[0]).toMatchObject({ kind: 'pool-leak', severity: 'violation', code: 0xc4, params: [0x62, 0, 0, 0] })
    expect(() => log.fatal({ kind: 'page-fault', message: 'NULL' })).toThrow(BugCheck)
    expect(log.stopped).toBe(true)
    expect(log.bugcheck).toEqual({ code: 0x50, name: 'PAGE_FAULT_IN_NONPAGED_AREA', params: [0, 0, 0, 0] })
  })

  it('crash mode turns the first violation into a bug check with that violation\'s code', () => {
    const log = new FindingsLog(new Clock(), 'crash')
    let err: unknown
    try {
      log.violation({ kind: 'irql-violation', code: BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL, params: [0x1234, 2, 1, 0], message: 'paged at dispatch' })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(BugCheck)
    const b = err as BugCheck
    expect(b.code).toBe(0xd1)
    expect(b.name).toBe('DRIVER_IRQL_NOT_LESS_OR_EQUAL')
    expect(b.params).toEqual([0x1234, 2, 1, 0])
    expect(b.kind).toBe('irql-violation')
  })

  it('a driver that swallows the BugCheck finds every later call refused', () => {
    const log = new FindingsLog(new Clock(), 'log')
    try {
      log.fatal({ kind: 'pool-double-free', message: 'twice' })
    } catch {
      // a driver's catch-all
    }
    expect(() => log.throwIfStopped()).toThrow(/BAD_POOL_CALLER/)
  })

  it('hardware reports never throw, even in crash mode; they request the stop instead', () => {
    const log = new FindingsLog(new Clock(), 'crash')
    let stops = 0
    log.onStop(() => stops++)
    expect(() => log.report({ kind: 'dma-address-truncated', message: 'x' })).not.toThrow()
    expect(log.stopped).toBe(true)
    expect(stops).toBe(1)
  })

  it('keeps a bounded number of findings per kind and counts the rest', () => {
    const log = new FindingsLog(new Clock(), 'log', 10)
    for (let i = 0; i < 1000; i++) log.report({ kind: 'dma-address-truncated', message: `#${i}` })
    expect(log.findings).toHaveLength(10)
    expect(log.counts.get('dma-address-truncated')).toBe(1000)
    expect(log.suppressed.get('dma-address-truncated')).toBe(990)
  })

  it('kinds with no Windows bug check carry the layer\'s code with parameter 1 in dmalab\'s own range, and crash with it', () => {
    const log = new FindingsLog(new Clock(), 'crash')
    log.report({ kind: 'init-only-call', message: 'contiguous at runtime' })
    expect(log.findings[0]).toMatchObject({ code: 0xc4, params: [DMALAB_P1.initOnlyCall, 0, 0, 0] })
    expect(isDmalabP1(log.findings[0]!.params![0])).toBe(true)
    expect(log.bugcheck).toMatchObject({ code: 0xc4, params: [DMALAB_P1.initOnlyCall, 0, 0, 0] })
  })

  it('an info finding is a note: kept apart from the findings, never a bug check, even in crash mode', () => {
    const log = new FindingsLog(new Clock(), 'crash')
    log.report({ kind: 'deprecated-routine', message: 'NdisAllocateMemoryWithTag' })
    expect(log.findings).toEqual([])
    expect(log.notes).toMatchObject([{ kind: 'deprecated-routine', severity: 'info' }])
    expect(log.notes[0]!.code).toBeUndefined()
    expect(log.stopped).toBe(false)
  })
})
