// Registering an NDIS 5 miniport and what comes with it, rule by rule against the NDIS 5.1
// reference: NdisMRegisterMiniport / NdisIMRegisterLayeredMiniport (CharacteristicsLength "must
// be either sizeof(NDIS51_MINIPORT_CHARACTERISTICS) or sizeof(NDIS50_MINIPORT_CHARACTERISTICS)";
// NDIS_STATUS_BAD_CHARACTERISTICS when it "is too small"; NDIS_STATUS_RESOURCES; the structure
// "is copied ... Thus, once it has registered, such a driver cannot change its handler
// functions"), NdisMInitializeWrapper ("If the call ... fails, NDIS sets the variable at
// NdisWrapperHandle to NULL"), NdisTerminateWrapper, NdisReadNetworkAddress ("NDIS does not
// validate the value"), MiniportShutdown / "Shutdown Handler (NDIS 5.1)" ("should call no NdisXxx
// functions") and NdisMRegisterAdapterShutdownHandler ("MiniportHalt must make a reciprocal call
// to NdisMDeregisterAdapterShutdownHandler").
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../../src/index.js'
import type { NdisApi } from '../../../src/ndis/api.js'
import { minimumCharacteristicsLength } from '../../../src/ndis/v5/wrapper.js'
import DriverEntry from '../../../examples/e1000-ndis5/index.js'
import { e1000 } from '../../support/e1000-driver.js'
import { ndis5Loop } from '../../support/miniports/ndis5-loop.js'

const load = (entry: (ndis: NdisApi) => number, config = {}) => {
  const m = createMachine(config)
  const loaded = m.load({ default: entry as never }, 'ndis5-registration')
  return { m, loaded }
}

/** sizeof(NDIS40_MINIPORT_CHARACTERISTICS) on x64: the version bytes and 16 handlers. */
const NDIS40_BYTES_X64 = 8 + 16 * 8

describe('NdisMRegisterMiniport: CharacteristicsLength for 5.0 and 5.1 characteristics', () => {
  const registerWith = (length: number, minor: 0 | 1, config = {}) => load(ndis5Loop({
    characteristicsLength: length,
    hooks: { characteristics: (c) => ({ ...c, MinorNdisVersion: minor }), initialize: (ndis, h) => {
      if (minor === 0) ndis.NdisMRegisterAdapterShutdownHandler(h, null, () => {})
    }, halt: (ndis, h) => {
      if (minor === 0) ndis.NdisMDeregisterAdapterShutdownHandler(h)
    } },
  }).DriverEntry, config)

  it('the minimum is the structure up to its last handler: 22 handlers for 5.0, 25 for 5.1, at the machine\'s pointer size', () => {
    expect(minimumCharacteristicsLength(0, 8)).toBe(0xb8)
    expect(minimumCharacteristicsLength(1, 8)).toBe(0xd0)
    expect(minimumCharacteristicsLength(0, 4)).toBe(0x60)
    expect(minimumCharacteristicsLength(1, 4)).toBe(0x6c)
  })

  it('5.1 characteristics with an NDIS 4.0-sized length are NDIS_STATUS_BAD_CHARACTERISTICS (too small for the version)', () => {
    const { m, loaded } = registerWith(NDIS40_BYTES_X64, 1)
    expect(loaded.state).toBe('init-failed')
    expect(loaded.initStatusName).toBe('NDIS_STATUS_BAD_CHARACTERISTICS')
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-bad-argument'])
    expect(m.findings[0]!.message).toMatch(/CharacteristicsLength 136 is too small for NDIS 5\.1/)
  })

  it('5.0 characteristics with sizeof(NDIS50_MINIPORT_CHARACTERISTICS) register; the same length is too small for 5.1 (x64)', () => {
    const ok = registerWith(0xb8, 0)
    expect(ok.loaded.state).toBe('running')
    ok.m.halt()
    expect(ok.m.findings).toEqual([])
    expect(registerWith(0xb8, 1).loaded.initStatusName).toBe('NDIS_STATUS_BAD_CHARACTERISTICS')
  })

  it('on the 32-bit machine the 32-bit sizes are the ones that count (sizeof(NDIS50_...) = 0x60)', () => {
    expect(registerWith(0x60, 0, { arch: 'x86' }).loaded.state).toBe('running')
    expect(registerWith(0x60, 1, { arch: 'x86' }).loaded.initStatusName).toBe('NDIS_STATUS_BAD_CHARACTERISTICS')
    expect(registerWith(0x60, 0).loaded.initStatusName).toBe('NDIS_STATUS_BAD_CHARACTERISTICS')
  })

  it('of a 5.0 structure NDIS reads no 5.1 handler: an AdapterShutdownHandler there registers nothing (the NDIS Verifier warns of no MiniportShutdown)', () => {
    const { m, loaded } = load(ndis5Loop({ hooks: { characteristics: (c) => ({ ...c, MinorNdisVersion: 0 }) } }).DriverEntry)
    expect(loaded.state).toBe('running')
    expect(m.ndis!.v5.state.characteristics!.AdapterShutdownHandler).toBeUndefined()
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-verifier-warning'])
    expect(m.findings[0]!.message).toMatch(/no MiniportShutdown/)
  })

  it('NDIS copies the characteristics: a handler the driver changes in its structure after registering is never called', () => {
    let driversStructure: { HaltHandler: (context: unknown) => void } | null = null
    const ran: string[] = []
    const loop = ndis5Loop({ hooks: { halt: () => ran.push('registered MiniportHalt'), characteristics: (c) => (driversStructure = c) } })
    const { m } = load(loop.DriverEntry)
    driversStructure!.HaltHandler = () => ran.push('a handler set after NdisMRegisterMiniport')
    m.halt()
    expect(ran).toEqual(['registered MiniportHalt'])
  })
})

describe('registration under low resources', () => {
  it('NdisMInitializeWrapper failing gives a NULL handle: e1000-ndis5 fails DriverEntry cleanly', () => {
    const m = createMachine({ faults: 'routine=NdisMInitializeWrapper' })
    const loaded = m.load({ default: DriverEntry as never }, 'e1000-ndis5')
    expect(loaded.state).toBe('init-failed')
    expect(m.report().faults.injected.map((f) => f.routine)).toEqual(['NdisMInitializeWrapper'])
    expect(m.findings).toEqual([])
  })

  it('NdisMRegisterMiniport failing is NDIS_STATUS_RESOURCES: e1000-ndis5 calls NdisTerminateWrapper and fails cleanly', () => {
    const m = createMachine({ faults: 'routine=NdisMRegisterMiniport' })
    const loaded = m.load({ default: DriverEntry as never }, 'e1000-ndis5')
    expect(loaded.initStatusName).toBe('NDIS_STATUS_RESOURCES')
    expect(m.ndis!.v5.state.wrapperTerminated).toBe(true)
    expect(m.findings).toEqual([])
  })

  it('a driver that does not call NdisTerminateWrapper after that failure leaks the wrapper', () => {
    const { m, loaded } = load(ndis5Loop({ terminateWrapper: false }).DriverEntry, { faults: 'routine=NdisMRegisterMiniport' })
    expect(loaded.state).toBe('init-failed')
    expect(m.findings.map((f) => f.kind)).toEqual(['ndis-resource-leak'])
  })
})

describe('NdisReadNetworkAddress returns the registry value unvalidated', () => {
  const read = (value: { StringData?: string; IntegerData?: number } | null, faults?: string) => {
    const out: Array<{ status: number; bytes: number[]; length: number }> = []
    const m = createMachine(faults === undefined ? {} : { faults })
    m.load({ default: ndis5Loop({ hooks: { initialize: (ndis, _h, cfg) => {
      const { configurationHandle } = ndis.NdisOpenConfiguration(cfg)
      if (value !== null) {
        const type = value.StringData !== undefined ? ndis.NdisParameterString : ndis.NdisParameterInteger
        ndis.NdisWriteConfiguration(configurationHandle, 'NetworkAddress', { ParameterType: type, ParameterData: value })
      }
      const r = ndis.NdisReadNetworkAddress(configurationHandle)
      out.push({ status: r.status, bytes: [...(r.networkAddress ?? [])], length: r.networkAddressLength })
      ndis.NdisCloseConfiguration(configurationHandle)
    } } }).DriverEntry as never }, 'netaddr')
    return { m, result: out[0]! }
  }

  it('hyphens dropped, each pair of digits one byte: a six-byte address', () => {
    expect(read({ StringData: '02-11-22-33-44-55' }).result).toEqual({ status: 0, bytes: [0x02, 0x11, 0x22, 0x33, 0x44, 0x55], length: 6 })
  })

  it('"NDIS does not validate the value": a short value, a long one and a multicast one come back as stored', () => {
    expect(read({ StringData: '0102' }).result).toEqual({ status: 0, bytes: [1, 2], length: 2 })
    expect(read({ StringData: '0300000000010203' }).result.length).toBe(8)
    expect(read({ StringData: '010000000001' }).result.bytes[0]).toBe(0x01) // the multicast bit set
  })

  it('no entry, or a value that is not a string, is NDIS_STATUS_FAILURE', () => {
    expect(read(null).result.status).toBe(0xc000_0001)
    expect(read({ IntegerData: 5 }).result.status).toBe(0xc000_0001)
  })

  it('NDIS allocates the address\'s storage: under low resources the call fails (NDIS_STATUS_FAILURE), no finding', () => {
    const { m, result } = read({ StringData: '02-11-22-33-44-55' }, 'routine=NdisReadNetworkAddress')
    expect(result.status).toBe(0xc000_0001)
    expect(m.report().faults.injected.map((f) => f.routine)).toEqual(['NdisReadNetworkAddress'])
  })

  it('e1000-ndis5 validates what it reads: a multicast NetworkAddress is ignored, the NIC keeps its EEPROM address', () => {
    const m = createMachine({})
    const permanent = [...m.nic.mac]
    const loaded = m.load({ default: ((ndis: NdisApi) => {
      m.ndis!.v5.config.set('NetworkAddress', { ParameterType: ndis.NdisParameterString, ParameterData: { StringData: '01-00-5E-00-00-01' } })
      return DriverEntry(ndis)
    }) as never }, 'e1000-ndis5')
    expect(loaded.state).toBe('running')
    expect([...m.ndis!.v5.protocol.mac]).toEqual(permanent)
    m.halt()
    expect(m.findings).toEqual([])
  })
})

describe('MiniportShutdown', () => {
  it('"should call no NdisXxx functions": a MiniportShutdown that frees or cancels is told so', () => {
    const { m } = load(ndis5Loop({ hooks: { characteristics: (c) => ({ ...c, AdapterShutdownHandler: () => {
      api!.NdisMCancelTimer(null as never)
    } }), initialize: (ndis) => {
      api = ndis
    } } }).DriverEntry)
    m.ndis!.v5.miniport.shutdown()
    expect(m.findings.map((f) => f.kind)).toContain('ndis-call-order')
    expect(m.findings.find((f) => f.kind === 'ndis-call-order')!.message).toMatch(/NdisMCancelTimer from MiniportShutdown: MiniportShutdown should call no NdisXxx functions/)
  })

  it('e1000-ndis5\'s MiniportShutdown only stops the NIC through its registers: no finding, receive and transmit off', async () => {
    const m = createMachine({ wire: 'loopback' })
    await m.load('e1000-ndis5')
    m.ndis!.v5.miniport.shutdown()
    expect(m.findings).toEqual([])
    const RCTL = 0x100
    const TCTL = 0x400
    expect(e1000(m).mmioRead32(RCTL)).toBe(0)
    expect(e1000(m).mmioRead32(TCTL)).toBe(0)
  })

  it('an NDIS 5.0 miniport that registered MiniportShutdown with NdisMRegisterAdapterShutdownHandler must deregister it in MiniportHalt', () => {
    const five0 = (deregister: boolean) => ndis5Loop({ hooks: {
      characteristics: (c) => {
        const { AdapterShutdownHandler: _s, ...rest } = c
        return { ...rest, MinorNdisVersion: 0 }
      },
      initialize: (ndis, h) => ndis.NdisMRegisterAdapterShutdownHandler(h, null, () => {}),
      halt: (ndis, h) => {
        if (deregister) ndis.NdisMDeregisterAdapterShutdownHandler(h)
      },
    } }).DriverEntry
    const clean = load(five0(true))
    clean.m.halt()
    expect(clean.m.findings).toEqual([])
    const leaky = load(five0(false))
    leaky.m.halt()
    expect(leaky.m.findings.map((f) => [f.kind, f.message])).toEqual([['ndis-resource-leak', expect.stringMatching(/MiniportShutdown still registered \(NdisMDeregisterAdapterShutdownHandler not called\)/)]])
  })
})

let api: NdisApi | null = null
