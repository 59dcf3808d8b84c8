// NDIS 5.1 miniports in C (include/ndis51.h): a driver that registers with NdisMRegisterMiniport
// runs under NDIS 5.1's driver model on the x86 machine, its handlers called through the
// function pointers of its NDIS51_MINIPORT_CHARACTERISTICS, its NDIS_PACKETs and buffer
// descriptors in emulated memory in their 32-bit layouts (NDIS 5.1 reference: "NDIS_PACKET
// structure", "NDIS_MINIPORT_CHARACTERISTICS structure", NdisMIndicateReceivePacket's
// NDIS_GET_PACKET_STATUS rule). test/support/c/ndis5-loop.c loops every sent frame back.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { importMiniport } from '../../../src/driver/loader.js'
import type { CMiniportModule } from '../../../src/driver/c/module.js'
import { createMachine } from '../../../src/index.js'
import { sweep } from '../../../src/sweep.js'
import { loadMiniport } from '../../../src/scenario.js'

const root = fileURLToPath(new URL('../../..', import.meta.url))
const LOOP = path.join(root, 'test/support/c/ndis5-loop.c')

let loop: CMiniportModule

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

  it('a sweep fails each of its allocating NDIS 5 calls at the C call site, and every run is handled', async () => {
    const r = await sweep(await loadMiniport(LOOP), { config: { arch: 'x86' }, scenario: { packets: 6, size: 600, rx: 0 }, jobs: 1 })
    expect(r.baseline).toBe('clean')
    const notHandled = r.runs.filter((x) => x.outcome !== 'handled').map((x) => `${x.replay}: ${x.outcome} ${x.findings[0]?.kind ?? ''} ${x.findings[0]?.message ?? ''}`)
    expect(notHandled).toEqual([])
    expect(new Set(r.runs.map((x) => x.routine))).toEqual(new Set(['NdisMInitializeWrapper', 'NdisMRegisterMiniport', 'NdisAllocateMemory', 'NdisMMapIoSpace', 'NdisMAllocateMapRegisters', 'NdisAllocatePacketPool', 'NdisAllocateBufferPool', 'NdisAllocateBuffer', 'NdisAllocatePacket', 'NdisOpenConfiguration']))
    expect(r.runs.every((x) => /^test\/support\/c\/ndis5-loop\.c:\d+$/.test(x.site ?? ''))).toBe(true)
  })
})
