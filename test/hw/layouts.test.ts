import { describe, expect, it } from 'vitest'
import { PCI_CONFIG_HEADER } from '../../src/hw/pci.js'
import { PCAP_GLOBAL_HEADER, PCAP_RECORD_HEADER } from '../../src/hw/pcap.js'
import { RX_DESCRIPTOR, TX_DESCRIPTOR } from '../../src/hw/e1000/layouts.js'
import { CONTEXT_ENTRY, ROOT_ENTRY, SL_ENTRY } from '../../src/hw/iommu/formats.js'

describe('layouts declared once with buffer-layout', () => {
  it('derive the datasheet offsets the fast accessors use', () => {
    // 8254x manual 3.2.3 and 3.3.3.
    expect(RX_DESCRIPTOR.offset).toEqual({ bufferAddressLow: 0, bufferAddressHigh: 4, length: 8, checksum: 10, status: 12, errors: 13, special: 14 })
    expect(TX_DESCRIPTOR.offset).toEqual({ bufferAddressLow: 0, bufferAddressHigh: 4, length: 8, cso: 10, cmd: 11, status: 12, css: 13, special: 14 })
    // PCI 3.0 figure 6-1.
    expect(PCI_CONFIG_HEADER.span).toBe(64)
    expect([PCI_CONFIG_HEADER.offset.command, PCI_CONFIG_HEADER.offset.bar0, PCI_CONFIG_HEADER.offset.subsystemVendorId, PCI_CONFIG_HEADER.offset.interruptLine, PCI_CONFIG_HEADER.offset.interruptPin]).toEqual([4, 0x10, 0x2c, 0x3c, 0x3d])
    expect([PCAP_GLOBAL_HEADER.span, PCAP_RECORD_HEADER.span]).toEqual([24, 16])
    expect([ROOT_ENTRY.span, CONTEXT_ENTRY.span, SL_ENTRY.span]).toEqual([16, 16, 8])
  })

  it('decode what the device wrote the same way the offsets read it', () => {
    const bytes = Buffer.alloc(16)
    const v = new DataView(bytes.buffer, bytes.byteOffset)
    v.setUint32(RX_DESCRIPTOR.offset.bufferAddressLow, 0x1234_5000, true)
    v.setUint32(RX_DESCRIPTOR.offset.bufferAddressHigh, 1, true)
    v.setUint16(RX_DESCRIPTOR.offset.length, 1514, true)
    v.setUint8(RX_DESCRIPTOR.offset.status, 3)
    expect(RX_DESCRIPTOR.structure.decode(bytes)).toMatchObject({ bufferAddressLow: 0x1234_5000, bufferAddressHigh: 1, length: 1514, status: 3, errors: 0 })
  })
})
