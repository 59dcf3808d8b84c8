// MiniportInitialize, in the order the NDIS 5.1 reference gives it: pick the medium; allocate
// the context area (NdisAllocateMemory) and hand it to NdisMSetAttributesEx as a deserialized
// bus master; read the configuration (NdisOpenConfiguration, a "NetworkAddress" override with
// NdisReadNetworkAddress); check the PCI function (NdisReadPciSlotInformation) and take its
// resources (NdisMQueryAdapterResources, NdisMMapIoSpace, NdisMRegisterIoPortRange for the I/O
// BAR, through which it resets the NIC); reserve map registers; allocate the
// rings and receive buffers in shared memory and the transmit staging area in contiguous
// noncached memory, each with its smaller-blocks fallback; packet and buffer descriptors for
// receive; the interrupt; the watchdog timer; then start the NIC. Every failure unwinds what
// was done (release() in halt.ts).
import type { NdisHandle } from '../../src/ndis/types.js'
import {
  CONTEXT_BYTES, CTX, MAP_REGISTERS, MAXIMUM_PHYSICAL_MAPPING, RING_SIZES, WATCHDOG_MS, get, readReg, set, writeReg, type Adapter, type Driver,
} from './adapter.js'
import {
  CTRL_RST, CTRL_SLU, DESC_ADDR_HI, DESC_ADDR_LO, DESC_SIZE, IMS_ENABLE, ITR_COALESCE, RAH_AV, RCTL_BAM, RCTL_BSIZE_2048,
  RCTL_EN, RCTL_SECRC, REG, RX_BUFFER_SIZE, STATUS_LU, TCTL_CT_COLD, TCTL_EN, TCTL_PSP,
} from '../e1000/hw.js'
import { readMac, resetDevice } from '../e1000/device.js'
import { allocateRxBlocks, rxBuffer } from '../e1000/rx-blocks.js'
import { allocateShared } from './memory.js'
import { release } from './halt.js'
import { watchdogOf } from './interrupt.js'

/** The I/O window's two registers, at offsets 0 and 4 of the I/O BAR (8254x manual 13.2.2). */
const IOADDR = 0
const IODATA = 4

/** PCI vendor and device of the 82540EM (8254x manual, table 5-1). */
const VENDOR_INTEL = 0x8086
const DEVICE_82540EM = 0x100e

export function miniportInitialize(driver: Driver, mediumArray: readonly number[], handle: NdisHandle, configurationContext: NdisHandle): { status: number; selectedMediumIndex: number } {
  const ndis = driver.ndis
  const medium = mediumArray.indexOf(ndis.NdisMedium802_3)
  if (medium < 0) return { status: ndis.NDIS_STATUS_UNSUPPORTED_MEDIA, selectedMediumIndex: 0 }
  const ctx = driver.hooks.allocateContext(ndis)
  if (ctx === 0) return { status: ndis.NDIS_STATUS_RESOURCES, selectedMediumIndex: medium }
  ndis.NdisZeroMemory(ctx, CONTEXT_BYTES)
  const a = newAdapter(driver, handle, ctx)
  driver.adapters.set(ctx, a)
  const status = setUp(a, configurationContext)
  // The NIC is reset early and started only by the last step: on failure there is no DMA to stop.
  if (status !== ndis.NDIS_STATUS_SUCCESS) release(a)
  return { status, selectedMediumIndex: medium }
}

function newAdapter(driver: Driver, handle: NdisHandle, ctx: number): Adapter {
  return {
    ndis: driver.ndis, driver, handle, ctx, regs: 0, regsLength: 0, ioPort: 0, ioPorts: 0, mac: new Uint8Array(6), lock: null, interrupt: null, watchdog: null,
    mapRegisters: false, freeRegisters: [], txRing: 0, txRingLogical: 0, rxRing: 0, rxRingLogical: 0, ringCount: 0,
    multicast: new Uint8Array(0), rxBlocks: [], rxPackets: [], rxReady: [], rxBuffers: [], packetPool: null, bufferPool: null,
    stagingBlocks: [], staging: [], freeSlots: [], txQueue: [], txFailed: [], txPackets: [],
  }
}

function setUp(a: Adapter, configurationContext: NdisHandle): number {
  const ndis = a.ndis
  // Seed 000: the context area from NdisAllocateMemory goes to NdisMSetAttributesEx.
  ndis.NdisMSetAttributesEx(a.handle, a.ctx, 0, ndis.NDIS_ATTRIBUTE_BUS_MASTER | ndis.NDIS_ATTRIBUTE_DESERIALIZE, ndis.NdisInterfacePci)
  const { spinLock } = ndis.NdisAllocateSpinLock()
  a.lock = spinLock

  let status = readConfiguration(a, configurationContext)
  if (status !== ndis.NDIS_STATUS_SUCCESS) return status
  const id = ndis.NdisReadPciSlotInformation(a.handle, 0, 0, 4)
  if (id.bytesRead !== 4 || (id.buffer[0]! | (id.buffer[1]! << 8)) !== VENDOR_INTEL || (id.buffer[2]! | (id.buffer[3]! << 8)) !== DEVICE_82540EM) return ndis.NDIS_STATUS_ADAPTER_NOT_FOUND

  // The register window and the interrupt come from the PnP resources.
  const sized = ndis.NdisMQueryAdapterResources(configurationContext, 0)
  const res = ndis.NdisMQueryAdapterResources(configurationContext, sized.bufferSize)
  if (res.status !== ndis.NDIS_STATUS_SUCCESS || res.resourceList === null) return ndis.NDIS_STATUS_ADAPTER_NOT_FOUND
  const memory = res.resourceList.PartialDescriptors.find((d) => d.Type === ndis.CmResourceTypeMemory)?.u.Memory
  const interrupt = res.resourceList.PartialDescriptors.find((d) => d.Type === ndis.CmResourceTypeInterrupt)?.u.Interrupt
  if (memory === undefined || interrupt === undefined) return ndis.NDIS_STATUS_ADAPTER_NOT_FOUND
  const io = ndis.NdisMMapIoSpace(a.handle, memory.Start, memory.Length)
  if (io.status !== ndis.NDIS_STATUS_SUCCESS) return io.status
  a.regs = io.virtualAddress
  a.regsLength = memory.Length
  // The I/O BAR, when the NIC has one: claimed for the adapter, and the reset goes through it.
  const ports = res.resourceList.PartialDescriptors.find((d) => d.Type === ndis.CmResourceTypePort)?.u.Port
  if (ports !== undefined) {
    const claimed = ndis.NdisMRegisterIoPortRange(a.handle, ports.Start, ports.Length)
    if (claimed.status !== ndis.NDIS_STATUS_SUCCESS) return claimed.status
    a.ioPort = claimed.portOffset
    a.ioPorts = ports.Length
    resetThroughPorts(a)
  } else resetDevice(a)
  if (a.mac.every((b) => b === 0)) readMac(a, a.mac)

  // 82540EM: a 32-bit bus master. One map register per buffer in flight, each a whole frame.
  status = ndis.NdisMAllocateMapRegisters(a.handle, 0, ndis.NDIS_DMA_32BITS, MAP_REGISTERS, MAXIMUM_PHYSICAL_MAPPING)
  if (status !== ndis.NDIS_STATUS_SUCCESS) return status
  a.mapRegisters = true
  a.freeRegisters = Array.from({ length: MAP_REGISTERS }, (_, i) => MAP_REGISTERS - 1 - i)

  const pools = allocatePools(a)
  if (pools !== ndis.NDIS_STATUS_SUCCESS) return pools
  status = allocateRings(a)
  if (status !== ndis.NDIS_STATUS_SUCCESS) return status
  status = allocateReceiveBuffers(a)
  if (status !== ndis.NDIS_STATUS_SUCCESS) return status
  if (!a.driver.hooks.allocateStaging(a)) return ndis.NDIS_STATUS_RESOURCES

  const requestIsr = a.driver.hooks.requestIsr
  const irq = ndis.NdisMRegisterInterrupt(a.handle, interrupt.Vector, interrupt.Level, requestIsr, requestIsr, ndis.NdisInterruptLevelSensitive)
  if (irq.status !== ndis.NDIS_STATUS_SUCCESS) return irq.status
  a.interrupt = irq.interrupt
  const timer = ndis.NdisMInitializeTimer(a.handle, watchdogOf(a.driver), a.ctx)
  if (timer.timer === null) return ndis.NDIS_STATUS_FAILURE
  a.watchdog = timer.timer

  startDevice(a)
  ndis.NdisMSetPeriodicTimer(a.watchdog, WATCHDOG_MS)
  return ndis.NDIS_STATUS_SUCCESS
}

/**
 * The global reset (CTRL.RST) written through the I/O window, IOADDR then IODATA (8254x manual
 * 13.2.2), as Intel's reference code does for the 8254x parts that cannot acknowledge a memory
 * write while they reset; the rest as resetDevice does.
 */
function resetThroughPorts(a: Adapter): void {
  const ndis = a.ndis
  writeReg(a, REG.IMC, 0xffff_ffff)
  ndis.NdisRawWritePortUlong(a.ioPort + IOADDR, REG.CTRL)
  const ctrl = ndis.NdisRawReadPortUlong(a.ioPort + IODATA)
  ndis.NdisRawWritePortUlong(a.ioPort + IODATA, (ctrl | CTRL_RST) >>> 0)
  writeReg(a, REG.IMC, 0xffff_ffff)
  readReg(a, REG.ICR)
}

/** The registry: a "NetworkAddress" the administrator set overrides the EEPROM's. */
function readConfiguration(a: Adapter, configurationContext: NdisHandle): number {
  const ndis = a.ndis
  const open = ndis.NdisOpenConfiguration(configurationContext)
  if (open.status !== ndis.NDIS_STATUS_SUCCESS) return open.status
  const address = ndis.NdisReadNetworkAddress(open.configurationHandle)
  if (address.status === ndis.NDIS_STATUS_SUCCESS && address.networkAddress !== null && address.networkAddressLength === 6 && (address.networkAddress[0]! & 1) === 0) {
    a.mac = address.networkAddress.slice()
  }
  ndis.NdisCloseConfiguration(open.configurationHandle)
  return ndis.NDIS_STATUS_SUCCESS
}

/** Receive packet and buffer descriptors (one each per receive buffer), and the staging buffers' descriptors. */
function allocatePools(a: Adapter): number {
  const ndis = a.ndis
  const packets = ndis.NdisAllocatePacketPool(RING_SIZES[0], 0)
  if (packets.status !== ndis.NDIS_STATUS_SUCCESS) return packets.status
  a.packetPool = packets.poolHandle
  const buffers = ndis.NdisAllocateBufferPool(RING_SIZES[0] * 2)
  if (buffers.status !== ndis.NDIS_STATUS_SUCCESS) return buffers.status
  a.bufferPool = buffers.poolHandle
  return ndis.NDIS_STATUS_SUCCESS
}

/** The two descriptor rings in shared memory, trying smaller rings when memory is short (S07). */
function allocateRings(a: Adapter): number {
  const ndis = a.ndis
  for (const count of RING_SIZES) {
    const tx = allocateShared(a, count * DESC_SIZE, false)
    if (tx.virtualAddress === 0) continue
    const rx = allocateShared(a, count * DESC_SIZE, false)
    if (rx.virtualAddress === 0) {
      ndis.NdisMFreeSharedMemory(a.handle, count * DESC_SIZE, false, tx.virtualAddress, tx.logicalAddress)
      continue
    }
    a.txRing = tx.virtualAddress
    a.txRingLogical = tx.logicalAddress
    a.rxRing = rx.virtualAddress
    a.rxRingLogical = rx.logicalAddress
    a.ringCount = count
    break
  }
  if (a.ringCount === 0) return ndis.NDIS_STATUS_RESOURCES
  ndis.NdisZeroMemory(a.txRing, a.ringCount * DESC_SIZE)
  ndis.NdisZeroMemory(a.rxRing, a.ringCount * DESC_SIZE)
  a.txPackets = new Array(a.ringCount).fill(null)
  set(a, CTX.txFree, a.ringCount)
  return ndis.NDIS_STATUS_SUCCESS
}

/**
 * Receive buffers in shared memory: one block if the system has it, else a page (two buffers)
 * at a time. Each gets a buffer descriptor and a packet descriptor for its indications.
 */
function allocateReceiveBuffers(a: Adapter): number {
  const ndis = a.ndis
  if (!allocateRxBlocks(a.rxBlocks, a.ringCount, ndis.PAGE_SIZE, (length) => allocateShared(a, length, true))) return ndis.NDIS_STATUS_RESOURCES
  a.rxPackets = new Array(a.ringCount).fill(null)
  a.rxBuffers = new Array(a.ringCount).fill(null)
  for (let i = 0; i < a.ringCount; i++) {
    const { va, logical } = rxBuffer(a.rxBlocks, i)
    const { status, buffer } = ndis.NdisAllocateBuffer(a.bufferPool, va, RX_BUFFER_SIZE)
    if (status !== ndis.NDIS_STATUS_SUCCESS || buffer === null) return ndis.NDIS_STATUS_RESOURCES
    a.rxBuffers[i] = buffer
    const p = ndis.NdisAllocatePacket(a.packetPool)
    if (p.status !== ndis.NDIS_STATUS_SUCCESS || p.packet === null) return ndis.NDIS_STATUS_RESOURCES
    ndis.NdisChainBufferAtFront(p.packet, buffer)
    ndis.NDIS_SET_PACKET_HEADER_SIZE(p.packet, 14)
    p.packet.MiniportReservedEx[0] = i
    a.rxPackets[i] = p.packet
    // Post the buffer: the descriptor holds its logical address; status 0 = owned by hardware.
    const d = a.rxRing + i * DESC_SIZE
    ndis.memory.write32(d + DESC_ADDR_LO, logical >>> 0)
    ndis.memory.write32(d + DESC_ADDR_HI, Math.floor(logical / 4294967296))
  }
  return ndis.NDIS_STATUS_SUCCESS
}

/** Programs the rings and starts both directions (8254x manual 14.5, 14.6: initialization). */
export function startDevice(a: Adapter): void {
  const m = a.mac
  writeReg(a, REG.CTRL, readReg(a, REG.CTRL) | CTRL_SLU)
  writeReg(a, REG.RAL0, (m[0]! | (m[1]! << 8) | (m[2]! << 16) | (m[3]! << 24)) >>> 0)
  writeReg(a, REG.RAH0, (m[4]! | (m[5]! << 8) | RAH_AV) >>> 0)
  for (let i = 0; i < 128; i++) writeReg(a, REG.MTA + i * 4, 0)
  writeReg(a, REG.TDBAL, a.txRingLogical >>> 0)
  writeReg(a, REG.TDBAH, Math.floor(a.txRingLogical / 4294967296))
  writeReg(a, REG.TDLEN, a.ringCount * DESC_SIZE)
  writeReg(a, REG.TDH, 0)
  writeReg(a, REG.TDT, 0)
  writeReg(a, REG.TCTL, TCTL_EN | TCTL_PSP | TCTL_CT_COLD)
  writeReg(a, REG.RDBAL, a.rxRingLogical >>> 0)
  writeReg(a, REG.RDBAH, Math.floor(a.rxRingLogical / 4294967296))
  writeReg(a, REG.RDLEN, a.ringCount * DESC_SIZE)
  writeReg(a, REG.RDH, 0)
  // All but one descriptor to the hardware: head == tail means empty. The last is the spare.
  a.rxReady = new Array<boolean>(a.ringCount).fill(false)
  a.rxReady[a.ringCount - 1] = true
  set(a, CTX.rxNext, 0)
  set(a, CTX.rxTail, a.ringCount - 1)
  writeReg(a, REG.RDT, get(a, CTX.rxTail))
  writeReg(a, REG.RCTL, RCTL_EN | RCTL_BAM | RCTL_BSIZE_2048 | RCTL_SECRC)
  writeReg(a, REG.ITR, ITR_COALESCE)
  writeReg(a, REG.IMS, IMS_ENABLE)
  set(a, CTX.linkUp, (readReg(a, REG.STATUS) & STATUS_LU) !== 0 ? 1 : 0)
}

