// NDIS 5.1 miniports in C (include/ndis51.h): a driver that registers with NdisMRegisterMiniport
// runs under NDIS 5.1's driver model on the x86 machine, its handlers called through the
// function pointers of its NDIS51_MINIPORT_CHARACTERISTICS, its NDIS_PACKETs and buffer
// descriptors in emulated memory in their 32-bit layouts (NDIS 5.1 reference: "NDIS_PACKET
// structure", "NDIS_MINIPORT_CHARACTERISTICS structure", NdisMIndicateReceivePacket's
// NDIS_GET_PACKET_STATUS rule). test/support/c/ndis5-loop.c loops every sent frame back.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { importMiniport } from '../../../src/driver/loader.js'
import type { CMiniportModule } from '../../../src/driver/c/module.js'
import { createMachine } from '../../../src/index.js'
import { sweep } from '../../../src/sweep.js'
import { tagValue } from '../../../src/kernel/tags.js'
import { loadMiniport } from '../../../src/scenario.js'

const root = fileURLToPath(new URL('../../..', import.meta.url))
const LOOP = path.join(root, 'test/support/c/ndis5-loop.c')

let loop: CMiniportModule

/** The line of ndis5-loop.c holding `text`. */
function line(text: string): number {
  const i = readFileSync(LOOP, 'utf8').split('\n').findIndex((l) => l.includes(text))
  expect(i).toBeGreaterThanOrEqual(0)
  return i + 1
}

beforeAll(async () => {
  loop = (await importMiniport(LOOP, 'ndis5-loop')) as CMiniportModule
})

describe('an NDIS 5.1 miniport in C', () => {
  it.each([false, true])('registers with NdisMRegisterMiniport, binds, loops 30 frames back through packets in memory, halts clean (IOMMU %s)', (iommu) => {
    const m = createMachine({ arch: 'x86', iommu })
    const loaded = m.load(loop, 'ndis5-loop')
    expect(loaded.state).toBe('running')
    m.traffic.send({ count: 30, size: 1200 })
    m.halt()
    const report = m.report()
    expect(report.findings).toEqual([])
    expect(report.traffic.txFrames).toBe(30)
    expect(report.traffic.rxFrames).toBe(30)
    expect(report.outcome).toBe('clean')
  })

  it.each([false, true])('with NDIS\'s scatter/gather DMA (NdisMInitializeScatterGatherDma), each send\'s list is in ScatterGatherListPacketInfo in its x86 layout, below 4 GiB, covering the packet (IOMMU %s)', (iommu) => {
    // The structures dmalab writes for the driver are system pool tagged 'Ndis' ('sidN'); a list's x86 copy
    // goes when NDIS frees the list at NdisMSendComplete, so what is left does not grow with the frames sent.
    const marshalled = (frames: number): number => {
      const m = createMachine({ arch: 'x86', iommu })
      m.load(loop, 'sg-dma')
      m.traffic.send({ count: frames, size: 1200 })
      const report = m.report()
      expect(report.findings).toEqual([])
      // The driver fails a send whose list does not cover it within 32 address lines, and loops back only the others.
      expect(report.traffic.rxFrames).toBe(frames)
      const left = [...m.kernel.pool.liveBlocks].filter((b) => b.tag === tagValue('sidN')).length
      m.halt()
      expect(m.report().outcome).toBe('clean')
      return left
    }
    expect(marshalled(30)).toBe(marshalled(5))
  })

  it('a send completed with a pointer that is no packet descriptor is packet-misuse (0x7C) at the C line, and the real packet is reported never completed', () => {
    const m = createMachine({ arch: 'x86', verifier: { mode: 'log' } })
    m.load(loop, 'wild-packet')
    m.traffic.send({ count: 3, size: 600 })
    m.halt()
    const misuse = m.findings.filter((f) => f.kind === 'packet-misuse')
    expect(misuse).toHaveLength(3)
    expect(misuse[0]).toMatchObject({ code: 0x7c, site: `test/support/c/ndis5-loop.c:${line('Is(L"wild-packet") ? (PNDIS_PACKET)a : p')}` })
    expect(m.findings.some((f) => f.kind === 'send-not-completed')).toBe(true)
  })

  it('NDIS reads the OOB header size the C driver set (or did not) through NDIS_SET_PACKET_HEADER_SIZE from the packet\'s memory', () => {
    // NdisMIndicateReceivePacket: "the miniport driver must set the HeaderSize ... with NDIS_SET_PACKET_HEADER_SIZE".
    const m = createMachine({ arch: 'x86', verifier: { mode: 'log' } })
    m.load(loop, 'no-header-size')
    m.traffic.send({ count: 3, size: 600 })
    m.halt()
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-bad-argument', 'ndis-bad-argument', 'ndis-bad-argument'])
    expect(m.findings[0]!.message).toMatch(/HeaderSize 0/)
    expect(m.findings[0]!.site).toBe(`test/support/c/ndis5-loop.c:${line('NdisMIndicateReceivePacket(a->Handle, &r, 1)')}`)
  })

  it('a sweep fails each of its allocating NDIS 5 calls at the C call site, and every run is handled', async () => {
    const r = await sweep(await loadMiniport(LOOP), { config: { arch: 'x86' }, scenario: { packets: 6, size: 600, rx: 0 }, jobs: 1 })
    expect(r.baseline).toBe('clean')
    const notHandled = r.runs.filter((x) => x.outcome !== 'handled').map((x) => `${x.replay}: ${x.outcome} ${x.findings[0]?.kind ?? ''} ${x.findings[0]?.message ?? ''}`)
    expect(notHandled).toEqual([])
    expect(new Set(r.runs.map((x) => x.routine))).toEqual(new Set(['NdisMInitializeWrapper', 'NdisMRegisterMiniport', 'NdisAllocateMemory', 'NdisMMapIoSpace', 'NdisMAllocateMapRegisters', 'NdisAllocatePacketPool', 'NdisAllocateBufferPool', 'NdisAllocateBuffer', 'NdisAllocatePacket', 'NdisOpenConfiguration']))
    expect(r.runs.every((x) => /^test\/support\/c\/ndis5-loop\.c:\d+$/.test(x.site ?? ''))).toBe(true)
  })
})
