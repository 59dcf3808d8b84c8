// What MiniportInitialize learns about its adapter: the registry (NdisOpenConfiguration,
// NdisReadConfiguration, NdisCloseConfiguration, NdisReadNetworkAddress), the PnP resources
// (NdisMQueryAdapterResources) and PCI configuration space (NdisReadPciSlotInformation,
// NdisWritePciSlotInformation). NDIS 5.1 reference pages of the same names.
//
// The adapter's registry key holds the keywords NDIS itself provides ("Environment",
// "ProcessorType", "NdisVersion", "BusType") plus whatever a test or the host sets in
// `registry`; a keyword that is absent reads as NDIS_STATUS_FAILURE, as on Windows.
import { PASSIVE_LEVEL } from '../../kernel/irql.js'
import { NDIS_STATUS } from '../constants.js'
import type { CM_PARTIAL_RESOURCE_LIST } from '../types.js'
import { NDIS_INTERFACE_TYPE, NDIS_PARAMETER_TYPE } from './constants.js'
import type { Ndis5State, WrapperConfigurationContext } from './state.js'
import type { NDIS_CONFIGURATION_PARAMETER } from './types.js'

export interface ConfigurationHandle { readonly kind: 'ndis5-configuration'; readonly id: number }

/** sizeof(CM_PARTIAL_RESOURCE_LIST) header and of one CM_PARTIAL_RESOURCE_DESCRIPTOR on x64 (wdm.h). */
const RESOURCE_LIST_HEADER_BYTES = 8
const RESOURCE_DESCRIPTOR_BYTES = 20
/** The legacy (pre-PnP) resource keywords a miniport once read its I/O base, interrupt, memory window and DMA channel from. */
const RESOURCE_KEYWORDS: ReadonlySet<string> = new Set(['iobaseaddress', 'interruptnumber', 'memorymappedbaseaddress', 'dmachannel'])
/** PCI configuration space is 256 bytes for a conventional function. */
const PCI_CONFIG_BYTES = 256

export class Configuration {
  private readonly s: Ndis5State
  private readonly resources: () => CM_PARTIAL_RESOURCE_LIST
  /** Keywords of the adapter's registry key (case-insensitive, as the registry). */
  readonly registry = new Map<string, NDIS_CONFIGURATION_PARAMETER>()
  private readonly open = new Set<ConfigurationHandle>()
  private readonly resourceKeywordsWarned = new Set<string>()

  constructor(state: Ndis5State, resources: () => CM_PARTIAL_RESOURCE_LIST) {
    this.s = state
    this.resources = resources
    // Keywords NDIS supplies for every adapter (NdisReadConfiguration, "reserved keywords").
    this.set('Environment', { ParameterType: NDIS_PARAMETER_TYPE.NdisParameterInteger, ParameterData: { IntegerData: 1 /* NdisEnvironmentWindowsNt */ } })
    this.set('ProcessorType', { ParameterType: NDIS_PARAMETER_TYPE.NdisParameterInteger, ParameterData: { IntegerData: 0 /* NdisProcessorX86 family */ } })
    this.set('NdisVersion', { ParameterType: NDIS_PARAMETER_TYPE.NdisParameterInteger, ParameterData: { IntegerData: 0x0005_0001 } })
    this.set('BusType', { ParameterType: NDIS_PARAMETER_TYPE.NdisParameterInteger, ParameterData: { IntegerData: NDIS_INTERFACE_TYPE.NdisInterfacePci } })
  }

  /** Sets a keyword of the adapter's registry key (what an INF or the user would write there). */
  set(keyword: string, value: NDIS_CONFIGURATION_PARAMETER): void {
    this.registry.set(keyword.toLowerCase(), value)
  }

  /** NdisOpenConfiguration(&Status, &ConfigurationHandle, WrapperConfigurationContext): PASSIVE_LEVEL. */
  NdisOpenConfiguration(WrapperConfigurationContext: unknown): { status: number; configurationHandle: ConfigurationHandle | null } {
    const s = this.s
    const fail = (status: number): { status: number; configurationHandle: null } => ({ status, configurationHandle: null })
    if (!s.enter('NdisOpenConfiguration')) return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    s.irqlAtMost('NdisOpenConfiguration', PASSIVE_LEVEL)
    if (!this.isContext(WrapperConfigurationContext)) {
      s.ctx.violation('ndis-bad-handle', 'NdisOpenConfiguration: WrapperConfigurationContext is not the one MiniportInitialize received')
      return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    }
    if (!s.ctx.inInitialize) s.callOrder('NdisOpenConfiguration outside MiniportInitialize: the WrapperConfigurationContext is valid only while MiniportInitialize runs')
    if (s.ctx.kernel.calls.allocation('NdisOpenConfiguration', 0).fail) return fail(NDIS_STATUS.NDIS_STATUS_RESOURCES)
    const handle: ConfigurationHandle = { kind: 'ndis5-configuration', id: s.ctx.handleId() }
    this.open.add(handle)
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, configurationHandle: handle }
  }

  /** NdisReadConfiguration(&Status, &ParameterValue, ConfigurationHandle, Keyword, ParameterType). */
  NdisReadConfiguration(ConfigurationHandle: unknown, Keyword: string, ParameterType: number): { status: number; parameterValue: NDIS_CONFIGURATION_PARAMETER | null } {
    const s = this.s
    const fail = (status: number): { status: number; parameterValue: null } => ({ status, parameterValue: null })
    if (!s.enter('NdisReadConfiguration')) return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    s.irqlAtMost('NdisReadConfiguration', PASSIVE_LEVEL)
    if (!this.open.has(ConfigurationHandle as ConfigurationHandle)) {
      s.ctx.violation('ndis-bad-handle', 'NdisReadConfiguration: ConfigurationHandle is not open (NdisOpenConfiguration, and not yet NdisCloseConfiguration)')
      return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    }
    if (typeof Keyword !== 'string' || !Object.values(NDIS_PARAMETER_TYPE).includes(ParameterType as never)) {
      s.ctx.violation('ndis-bad-argument', `NdisReadConfiguration: Keyword must be a string and ParameterType an NDIS_PARAMETER_TYPE (got ${typeof Keyword}, ${String(ParameterType)})`)
      return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    }
    const key = Keyword.toLowerCase()
    if (RESOURCE_KEYWORDS.has(key) && !this.resourceKeywordsWarned.has(key)) {
      // NDIS Verifier, "Displaying Warning Messages": "Drivers that use reserved keywords instead of
      // NdisMQueryAdapterResources to get assigned resources".
      this.resourceKeywordsWarned.add(key)
      s.ctx.violation('ndis-verifier-warning', `NdisReadConfiguration of "${Keyword}": a PnP miniport gets its assigned resources from NdisMQueryAdapterResources, not from the registry's resource keywords (the NDIS Verifier warns about it)`)
    }
    // NDIS allocates the NDIS_CONFIGURATION_PARAMETER it returns (freed by NdisCloseConfiguration).
    if (s.ctx.kernel.calls.allocation('NdisReadConfiguration', 0).fail) return fail(NDIS_STATUS.NDIS_STATUS_RESOURCES)
    const value = this.registry.get(Keyword.toLowerCase())
    if (value === undefined) return fail(NDIS_STATUS.NDIS_STATUS_FAILURE)
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, parameterValue: convert(value, ParameterType) }
  }

  /** NdisWriteConfiguration(&Status, ConfigurationHandle, Keyword, ParameterValue): writes a keyword of the adapter's key. */
  NdisWriteConfiguration(ConfigurationHandle: unknown, Keyword: string, ParameterValue: NDIS_CONFIGURATION_PARAMETER): number {
    const s = this.s
    if (!s.enter('NdisWriteConfiguration')) return NDIS_STATUS.NDIS_STATUS_FAILURE
    s.irqlAtMost('NdisWriteConfiguration', PASSIVE_LEVEL)
    if (!this.open.has(ConfigurationHandle as ConfigurationHandle)) {
      s.ctx.violation('ndis-bad-handle', 'NdisWriteConfiguration: ConfigurationHandle is not open (NdisOpenConfiguration)')
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    if (typeof Keyword !== 'string' || typeof ParameterValue !== 'object' || ParameterValue === null || typeof ParameterValue.ParameterData !== 'object') {
      s.ctx.violation('ndis-bad-argument', 'NdisWriteConfiguration: Keyword must be a string and ParameterValue an NDIS_CONFIGURATION_PARAMETER')
      return NDIS_STATUS.NDIS_STATUS_FAILURE
    }
    this.set(Keyword, { ParameterType: ParameterValue.ParameterType, ParameterData: { ...ParameterValue.ParameterData } })
    return NDIS_STATUS.NDIS_STATUS_SUCCESS
  }

  /** NdisCloseConfiguration(ConfigurationHandle): frees the handle and every parameter read through it. */
  NdisCloseConfiguration(ConfigurationHandle: unknown): void {
    const s = this.s
    if (!s.enter('NdisCloseConfiguration')) return
    s.irqlAtMost('NdisCloseConfiguration', PASSIVE_LEVEL)
    if (!this.open.delete(ConfigurationHandle as ConfigurationHandle)) {
      s.ctx.violation('ndis-bad-handle', 'NdisCloseConfiguration: ConfigurationHandle is not open (closed twice?)')
    }
  }

  /**
   * NdisReadNetworkAddress(&Status, &NetworkAddress, &NetworkAddressLength, ConfigurationHandle):
   * the "NetworkAddress" keyword converted to bytes. NdisReadNetworkAddress (reference page):
   * NDIS_STATUS_FAILURE when there is no such entry "or the value stored was not a string"; it
   * "discards hyphens and converts each such pair into a single byte ... one character at a time
   * ... until the string is exhausted"; and "NDIS does not validate the value ... that the value
   * has the proper length, or even that the value is a network address": the caller must. So a
   * value of the wrong length, a multicast address or non-hex characters come back as they are
   * (a character that is not a hex digit reads as 0 here; an odd last digit is a byte of its own).
   * NDIS allocates the storage (freed by NdisCloseConfiguration), so the call can fail for memory.
   */
  NdisReadNetworkAddress(ConfigurationHandle: unknown): { status: number; networkAddress: Uint8Array | null; networkAddressLength: number } {
    const s = this.s
    const fail = { status: NDIS_STATUS.NDIS_STATUS_FAILURE, networkAddress: null, networkAddressLength: 0 }
    if (!s.enter('NdisReadNetworkAddress')) return fail
    s.irqlAtMost('NdisReadNetworkAddress', PASSIVE_LEVEL)
    if (!this.open.has(ConfigurationHandle as ConfigurationHandle)) {
      s.ctx.violation('ndis-bad-handle', 'NdisReadNetworkAddress: ConfigurationHandle is not open (NdisOpenConfiguration)')
      return fail
    }
    const value = this.registry.get('networkaddress')?.ParameterData.StringData
    if (typeof value !== 'string' || value.length === 0) return fail
    if (s.ctx.kernel.calls.allocation('NdisReadNetworkAddress', value.length).fail) return fail
    const address = networkAddressBytes(value)
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, networkAddress: address, networkAddressLength: address.length }
  }

  /** Configuration handles MiniportInitialize left open (NdisCloseConfiguration frees them). */
  get openHandles(): number {
    return this.open.size
  }

  closeAll(): void {
    this.open.clear()
  }

  /** NdisMQueryAdapterResources(&Status, WrapperConfigurationContext, ResourceList, &BufferSize). */
  NdisMQueryAdapterResources(WrapperConfigurationContext: unknown, BufferSize: number): { status: number; resourceList: CM_PARTIAL_RESOURCE_LIST | null; bufferSize: number } {
    const s = this.s
    if (!s.enter('NdisMQueryAdapterResources')) return { status: NDIS_STATUS.NDIS_STATUS_FAILURE, resourceList: null, bufferSize: 0 }
    s.irqlAtMost('NdisMQueryAdapterResources', PASSIVE_LEVEL)
    if (!this.isContext(WrapperConfigurationContext)) {
      s.ctx.violation('ndis-bad-handle', 'NdisMQueryAdapterResources: WrapperConfigurationContext is not the one MiniportInitialize received')
      return { status: NDIS_STATUS.NDIS_STATUS_FAILURE, resourceList: null, bufferSize: 0 }
    }
    // The WrapperConfigurationContext is MiniportInitialize's parameter: "drivers can call
    // NdisMQueryAdapterResources from their MiniportInitialize functions" (NdisMQueryAdapterResources).
    if (!s.ctx.inInitialize) s.callOrder('NdisMQueryAdapterResources outside MiniportInitialize: the WrapperConfigurationContext is valid only while MiniportInitialize runs')
    const list = this.resources()
    const needed = RESOURCE_LIST_HEADER_BYTES + list.Count * RESOURCE_DESCRIPTOR_BYTES
    // BufferSize in: the caller's buffer; too small returns NDIS_STATUS_RESOURCES and the size needed.
    if (!(Number.isSafeInteger(BufferSize) && BufferSize >= needed)) return { status: NDIS_STATUS.NDIS_STATUS_RESOURCES, resourceList: null, bufferSize: needed }
    return { status: NDIS_STATUS.NDIS_STATUS_SUCCESS, resourceList: list, bufferSize: needed }
  }

  /** NdisReadPciSlotInformation(NdisAdapterHandle, SlotNumber, Offset, Buffer, Length): bytes read. */
  NdisReadPciSlotInformation(NdisAdapterHandle: unknown, SlotNumber: number, Offset: number, Length: number): { bytesRead: number; buffer: Uint8Array } {
    const s = this.s
    if (!s.enterAdapter('NdisReadPciSlotInformation', NdisAdapterHandle) || !this.slotAccess('NdisReadPciSlotInformation', SlotNumber, Offset, Length)) return { bytesRead: 0, buffer: new Uint8Array(0) }
    const pci = s.ctx.nic.pci
    const buffer = new Uint8Array(Math.max(0, Math.min(Length, PCI_CONFIG_BYTES - Offset)))
    for (let i = 0; i < buffer.length; i++) buffer[i] = (pci.configRead32((Offset + i) & ~3) >>> (((Offset + i) & 3) * 8)) & 0xff
    return { bytesRead: buffer.length, buffer }
  }

  /** NdisWritePciSlotInformation(NdisAdapterHandle, SlotNumber, Offset, Buffer, Length): bytes written. */
  NdisWritePciSlotInformation(NdisAdapterHandle: unknown, SlotNumber: number, Offset: number, Buffer: Uint8Array, Length: number): number {
    const s = this.s
    if (!s.enterAdapter('NdisWritePciSlotInformation', NdisAdapterHandle) || !this.slotAccess('NdisWritePciSlotInformation', SlotNumber, Offset, Length)) return 0
    if (!(Buffer instanceof Uint8Array)) {
      s.ctx.violation('ndis-bad-argument', 'NdisWritePciSlotInformation: Buffer must hold the bytes to write')
      return 0
    }
    const pci = s.ctx.nic.pci
    const n = Math.max(0, Math.min(Length, Buffer.length, PCI_CONFIG_BYTES - Offset))
    for (let i = 0; i < n; i++) {
      const at = (Offset + i) & ~3
      const shift = ((Offset + i) & 3) * 8
      const old = pci.configRead32(at)
      pci.configWrite32(at, ((old & ~(0xff << shift)) | (Buffer[i]! << shift)) >>> 0)
    }
    return n
  }

  private slotAccess(routine: string, slot: number, offset: number, length: number): boolean {
    const s = this.s
    s.irqlAtMost(routine, PASSIVE_LEVEL)
    if (!(Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(length) && length >= 0)) {
      s.ctx.violation('ndis-bad-argument', `${routine}: Offset ${String(offset)} and Length ${String(length)} must be byte counts (ULONG)`)
      return false
    }
    // The NDIS Verifier warns about a SlotNumber other than zero: NDIS ignores it and reads the adapter's own function.
    if (slot !== 0) s.ctx.violation('ndis-verifier-warning', `${routine} with SlotNumber ${String(slot)}: NDIS reads the adapter's own PCI function whatever the slot; pass 0 (the NDIS Verifier warns about any other value)`)
    return true
  }

  private isContext(c: unknown): c is WrapperConfigurationContext {
    return c === this.s.configurationContext
  }
}

/** A NetworkAddress string as NdisReadNetworkAddress converts it: hyphens dropped, each pair of characters one byte. */
export function networkAddressBytes(value: string): Uint8Array {
  const digits = value.replace(/-/g, '')
  const nibble = (c: string | undefined): number => {
    const n = c === undefined ? NaN : parseInt(c, 16)
    return Number.isNaN(n) ? 0 : n
  }
  const out = new Uint8Array(Math.ceil(digits.length / 2))
  for (let i = 0; i < out.length; i++) {
    const hi = digits[2 * i]
    const lo = digits[2 * i + 1]
    out[i] = lo === undefined ? nibble(hi) : (nibble(hi) << 4) | nibble(lo)
  }
  return out
}

/** Integers read as the type asked for; strings as strings (NDIS converts a REG_SZ number on request). */
function convert(value: NDIS_CONFIGURATION_PARAMETER, type: number): NDIS_CONFIGURATION_PARAMETER {
  const isInt = type === NDIS_PARAMETER_TYPE.NdisParameterInteger || type === NDIS_PARAMETER_TYPE.NdisParameterHexInteger
  if (isInt && value.ParameterData.StringData !== undefined) {
    const n = parseInt(value.ParameterData.StringData, type === NDIS_PARAMETER_TYPE.NdisParameterHexInteger ? 16 : 10)
    if (Number.isFinite(n)) return { ParameterType: type, ParameterData: { IntegerData: n >>> 0 } }
  }
  return { ParameterType: value.ParameterType, ParameterData: { ...value.ParameterData } }
}

