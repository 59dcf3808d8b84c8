import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { checkFrames } from '../support/ethernet.js'
import { findTshark, readPcap, tsharkChecksums } from '../support/pcap.js'
import { SERVICE_PORT, SERVICE_PORTS } from '../../src/ndis/frames.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const tiny = 'test/support/miniports/tiny.ts'

/** Runs the command line as a user would from a checkout (`npm run -s dmalab -- …`). */
function dmalab(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

describe('dmalab command line: usage errors are one line and exit 2', () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /^dmalab: missing command/],
    [['frobnicate'], /^dmalab: unknown command "frobnicate"/],
    [['run', 'e1000', '--turbo'], /^dmalab: unknown option --turbo/],
    [['run', 'e1000', '--iommu', 'maybe'], /^dmalab: --iommu takes on or off, not "maybe"/],
    [['run', 'e1000', '--fail', 'nth=abc'], /^dmalab: fault spec "nth=abc": nth takes a whole number/],
    [['run', 'e1000', '--fail', 'routine=ExAllocPool'], /no allocation routine matches "ExAllocPool"/],
    // A routine that exists but allocates nothing cannot be failed: a usage error, not a no-op.
    [['run', 'e1000', '--fail', 'routine=KeFlushIoBuffers'], /no allocation routine matches "KeFlushIoBuffers"/],
    [['run', 'no-such-driver'], /^dmalab: no miniport "no-such-driver"/],
    [['run'], /^dmalab: run needs a miniport/],
    [['run', 'e1000', '--memory', 'lots'], /^dmalab: --memory "lots" is not a size/],
    [['run', 'e1000', '--size', '20000'], /^dmalab: --size 20000 is outside 60\.\.1514/],
    [['run', 'e1000', '--jobs', '2'], /^dmalab: --jobs applies to sweep and check only/],
    [['run', 'e1000', '--arch', 'arm64'], /^dmalab: --arch takes x64 or x86, not "arm64"/],
    // The same words whichever NDIS version the miniport registered with.
    [['run', 'e1000-ndis5', '--oid', 'OID_NO_SUCH'], /^dmalab: --oid: unknown OID "OID_NO_SUCH"/],
    [['run', 'c/e1000-ndis5', '--oid', 'OID_GEN_CURRENT_PACKET_FILTER=SOMETIMES'], /^dmalab: --oid OID_GEN_CURRENT_PACKET_FILTER=SOMETIMES: a value is a number, packet types/],
  ]
  for (const [args, message] of cases) {
    it(`dmalab ${args.join(' ') || '(nothing)'}`, () => {
      const r = dmalab(...args)
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stdout).toBe('')
    })
  }
})

describe('dmalab run', () => {
  it('--json has every key of the report schema, and exit 0 for a clean run', () => {
    const r = dmalab('run', 'e1000', '--packets', '40', '--size', '300', '--rx', '3', '--traffic', 'uniform', '--json')
    expect(r.code).toBe(0)
    const report = JSON.parse(r.stdout) as Record<string, unknown>
    for (const key of ['miniport', 'config', 'outcome', 'init', 'bugcheck', 'findings', 'traffic', 'pool', 'dma', 'faults']) expect(report).toHaveProperty(key)
    expect(report).toMatchObject({
      miniport: 'e1000',
      outcome: 'clean',
      init: { status: 'NDIS_STATUS_SUCCESS', code: 0 },
      bugcheck: null,
      findings: [],
      traffic: { txFrames: 40, rxFrames: 43 },
      faults: { injected: [] },
    })
    expect(report).toHaveProperty('traffic.dropped')
    expect(report).toHaveProperty('pool.byTag')
    expect(report).toHaveProperty('dma.commonBuffers')
    expect(report).toHaveProperty('dma.bounceBytes')
    expect(report).toHaveProperty('dma.iommuFaults')
    const byTag = (report.pool as { byTag: Record<string, { allocs: number; frees: number; bytesOutstanding: number }> }).byTag
    for (const usage of Object.values(byTag)) expect(Object.keys(usage).sort()).toEqual(['allocs', 'bytesOutstanding', 'frees'])
  })

  // NDIS 5.1: the query goes to MiniportQueryInformation, the set to MiniportSetInformation.
  it('--oid on an NDIS 5.1 miniport in C: the query and the set reach it, and the report lists what came back', () => {
    const r = dmalab('run', 'c/e1000-ndis5', '--packets', '20', '--oid', 'OID_802_3_CURRENT_ADDRESS', '--oid', 'OID_GEN_MAXIMUM_FRAME_SIZE', '--oid', 'OID_GEN_CURRENT_PACKET_FILTER=DIRECTED|BROADCAST', '--json')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const report = JSON.parse(r.stdout) as { outcome: string; oids: unknown[] }
    expect(report.outcome).toBe('clean')
    expect(report.oids).toEqual([
      { request: 'query', oid: 0x0101_0102, name: 'OID_802_3_CURRENT_ADDRESS', status: 0, statusName: 'NDIS_STATUS_SUCCESS', bytesWritten: 6, bytesRead: 0, bytesNeeded: 0, data: '52 54 00 12 34 56' },
      { request: 'query', oid: 0x0001_0106, name: 'OID_GEN_MAXIMUM_FRAME_SIZE', status: 0, statusName: 'NDIS_STATUS_SUCCESS', bytesWritten: 4, bytesRead: 0, bytesNeeded: 0, data: 'dc 05 00 00', value: 1500 },
      { request: 'set', oid: 0x0001_010e, name: 'OID_GEN_CURRENT_PACKET_FILTER', status: 0, statusName: 'NDIS_STATUS_SUCCESS', bytesWritten: 0, bytesRead: 4, bytesNeeded: 0 },
    ])
  })

  it('two runs with the same seed print identical JSON', () => {
    const args = ['run', 'e1000', '--packets', '60', '--size', '200', '--seed', '7', '--memory-policy', 'random', '--fail', 'p=400', '--json']
    const a = dmalab(...args)
    const b = dmalab(...args)
    expect(a.stdout.length).toBeGreaterThan(100)
    expect(a.stdout).toBe(b.stdout)
  })

  it('an injected initialization failure is reported with its replay spec, and exits 1', () => {
    const r = dmalab('run', 'e1000', '--fail', 'routine=NdisMRegisterScatterGatherDma', '--json')
    expect(r.code).toBe(1)
    const report = JSON.parse(r.stdout) as { outcome: string; findings: unknown[]; init: { status: string }; faults: { injected: Array<{ routine: string; replay: string; site: string }> } }
    expect(report.outcome).toBe('init-failed')
    expect(report.findings).toEqual([]) // the driver unwound everything: a clean failure
    expect(report.faults.injected[0]).toMatchObject({ routine: 'NdisMRegisterScatterGatherDma', replay: 'routine=NdisMRegisterScatterGatherDma,nth=1' })
    expect(report.faults.injected[0]!.site).toMatch(/^examples\/e1000\/.*\.ts:\d+$/)
  })

  it('the human report leads with a one-line verdict and lists pool usage and DMA buffers', () => {
    const r = dmalab('run', 'e1000', '--packets', '20', '--iommu', 'on')
    expect(r.code).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines[0]).toMatch(/^dmalab run e1000 — clean: no findings \(20 frames sent, 20 received intact\)$/)
    expect(r.stdout).toMatch(/pool usage by tag/)
    expect(r.stdout).toMatch(/NdisMAllocateSharedMemory .*IOVA 0x[0-9a-f_]+ → 0x[0-9a-f_]+/)
  })

  it('--pcap writes every frame crossing the wire, readable by an independent parser: ARP, UDP and TCP with valid checksums', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dmalab-'))
    const file = path.join(dir, 'run.pcap')
    const r = dmalab('run', 'e1000', '--packets', '200', '--rx', '50', '--pcap', file)
    expect(r.code).toBe(0)
    const { header, packets } = await readPcap(file)
    const linkType = header.linkLayerType
    expect(linkType).toBe(1) // Ethernet
    // Sent frames cross the wire twice in loopback (out and back); the LAN's once.
    expect(packets.length).toBeGreaterThanOrEqual(200 + 50)
    const mix = checkFrames(packets.map((p) => p.data))
    expect(mix.bad, mix.problems.slice(0, 3).join('\n')).toBe(0)
    expect(mix.arp).toBeGreaterThan(0)
    expect(mix.udp).toBeGreaterThan(0)
    expect(mix.tcp).toBeGreaterThan(0)
    expect(mix.broadcast).toBeGreaterThan(0)
    expect(mix.multicast).toBeGreaterThan(0)
    expect(mix.sizes.has(60)).toBe(true)
    expect(mix.sizes.has(1514)).toBe(true)
    expect(mix.sizes.size).toBeGreaterThan(20)
    expect(readFileSync(file).length).toBeGreaterThan(24)
    // Wireshark itself (tshark, checksum validation on) when installed: every frame dissected
    // as ARP, UDP or TCP over IPv4, none malformed, every IPv4/UDP/TCP checksum good. The
    // payloads are opaque data on the upper edge's service ports: decoded as data.
    const tshark = findTshark()
    if (tshark === null) return
    const frames = tsharkChecksums(tshark, file, { dataPorts: `${SERVICE_PORT}-${SERVICE_PORT + SERVICE_PORTS - 1}` })
    expect(frames.length).toBe(packets.length)
    const kinds = { arp: 0, udp: 0, tcp: 0 }
    for (const f of frames) {
      expect(f.malformed, `frame ${f.frame}: ${f.protocols}`).toBe(false)
      if (f.protocols.startsWith('eth:ethertype:arp')) kinds.arp++
      else if (f.protocols.startsWith('eth:ethertype:ip:udp')) kinds.udp++
      else if (f.protocols.startsWith('eth:ethertype:ip:tcp')) kinds.tcp++
      else throw new Error(`frame ${f.frame} is ${f.protocols}`)
      for (const status of [f.ip, f.udp, f.tcp]) expect(status === '' || status === '1', `frame ${f.frame} checksums ${f.ip}/${f.udp}/${f.tcp}`).toBe(true)
    }
    expect(kinds).toEqual({ arp: mix.arp, udp: mix.udp, tcp: mix.tcp })
  })
})


describe('dmalab sweep, check and examples', () => {
  it('sweep --json: every call classified, exit 0 when all are handled', () => {
    const r = dmalab('sweep', tiny, '--packets', '0', '--jobs', '1', '--json')
    expect(r.code).toBe(0)
    const s = JSON.parse(r.stdout) as { miniport: string; calls: number; runs: Array<Record<string, unknown>>; summary: Record<string, number> }
    expect(s.miniport).toBe('tiny')
    expect(s.calls).toBe(2)
    expect(s.summary).toEqual({ handled: 2, leak: 0, finding: 0, bugcheck: 0, hang: 0 })
    for (const run of s.runs) for (const key of ['call', 'routine', 'site', 'outcome', 'replay', 'findings']) expect(run).toHaveProperty(key)
  })

  it('check: four configurations and a sweep, exit 0 only when all are clean and handled', () => {
    const r = dmalab('check', tiny, '--packets', '5', '--jobs', '1', '--json')
    expect(r.code).toBe(0)
    const c = JSON.parse(r.stdout) as { matrix: Array<{ iommu: boolean; policy: string; outcome: string }>; sweep: { summary: { handled: number } }; clean: boolean }
    expect(c.matrix.map((m) => [m.iommu, m.policy, m.outcome])).toEqual([
      [false, 'high-first', 'clean'],
      [false, 'low-first', 'clean'],
      [true, 'high-first', 'clean'],
      [true, 'low-first', 'clean'],
    ])
    expect(c.clean).toBe(true)
  })

  it('examples lists the bundled miniports with what each one is', () => {
    const r = dmalab('examples')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^\s+e1000\s+\S.+$/m)
  })
})
