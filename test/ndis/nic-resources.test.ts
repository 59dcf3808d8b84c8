// The resources NDIS hands MiniportInitializeEx come from the NIC's BARs, whatever the model:
// one CM_PARTIAL_RESOURCE_DESCRIPTOR per assigned BAR — memory, then I/O ports with
// CM_RESOURCE_PORT_IO — then the interrupt (WDK: CM_PARTIAL_RESOURCE_DESCRIPTOR structure).
import { describe, expect, it } from 'vitest'
import { createMachine } from '../../src/index.js'
import { PCI_CONFIG_HEADER } from '../../src/hw/pci.js'
import { CM_RESOURCE_PORT_IO, CM_RESOURCE_TYPE } from '../../src/ndis/constants.js'
import { tinyMiniport } from '../support/miniports/tiny.js'

const H = PCI_CONFIG_HEADER.offset

describe('the NIC resources NDIS reports', () => {
  it('lists the 82540EM memory BAR, its I/O BAR as a port, and its interrupt', () => {
    const m = createMachine()
    m.load({ default: tinyMiniport('correct') }, 'tiny')
    const list = m.ndis!.miniport.resources()
    const port = m.pci.configRead32(m.nic.bdf, H.bar2) & ~0x3
    expect(list.PartialDescriptors.map((d) => d.Type)).toEqual([CM_RESOURCE_TYPE.CmResourceTypeMemory, CM_RESOURCE_TYPE.CmResourceTypePort, CM_RESOURCE_TYPE.CmResourceTypeInterrupt])
    expect(list.Count).toBe(3)
    expect(list.PartialDescriptors[0]!.u.Memory).toEqual({ Start: m.nic.bar0, Length: 0x2_0000 })
    expect(list.PartialDescriptors[1]!.Flags).toBe(CM_RESOURCE_PORT_IO)
    expect(list.PartialDescriptors[1]!.u.Port).toEqual({ Start: port, Length: 8 })
    expect(list.PartialDescriptors[2]!.u.Interrupt?.Level).toBe(11)
  })
})
