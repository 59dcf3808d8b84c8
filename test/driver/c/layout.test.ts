// The C headers dmalab ships (include/) and the structure layouts the emulator reads and writes
// (src/driver/c/structs.ts) describe the same bytes: every offset and size is compiled into the
// headers as a _Static_assert, with the constants the headers define beside the TypeScript
// tables they must equal. One compile; a disagreement names the field.
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { includeDirectory } from '../../../src/driver/c/build.js'
import { staticAsserts } from '../../../src/driver/c/layout.js'
import { ALL_LAYOUTS, NET_BUFFER, NET_BUFFER_LIST, NDIS_OID_REQUEST, CM_PARTIAL_RESOURCE_DESCRIPTOR } from '../../../src/driver/c/structs.js'
import { CompileError, compileDriver } from '../../../src/driver/c/toolchain.js'
import { C_ROUTINES } from '../../../src/driver/c/imports.js'
import { functionImports } from '../../../src/driver/c/wasm-binary.js'
import { DRIVER_IMAGE_BASE } from '../../../src/kernel/arch.js'
import { CM_RESOURCE_TYPE, NDIS_FLAGS, NDIS_OBJECT_TYPE, NDIS_PACKET_TYPE, NDIS_SG_DMA, NDIS_STATUS, OID } from '../../../src/ndis/constants.js'
import { RECEIVE_THROTTLE } from '../../../src/driver/c/structs-net.js'
import { EX_POOL_PRIORITY, MEMORY_CACHING_TYPE, POOL_TYPE } from '../../../src/kernel/wdm.js'
import { NDIS5_LAYOUTS, NDIS_PACKET, NDIS51_MINIPORT_CHARACTERISTICS, NDIS_PACKET_OOB_DATA } from '../../../src/driver/c/structs-ndis5.js'
import * as NDIS5 from '../../../src/ndis/v5/constants.js'

function constantAsserts(table: Record<string, number>, cast = ''): string {
  return Object.entries(table).map(([name, value]) => `_Static_assert((${cast}(${name})) == (${cast}0x${value.toString(16)}ULL), "${name} is not 0x${value.toString(16)}");`).join('\n')
}

function systemHeaders(): Array<{ path: string; bytes: Uint8Array }> {
  const dir = includeDirectory()
  return readdirSync(dir).filter((f) => f.endsWith('.h')).map((f) => ({ path: f, bytes: new Uint8Array(readFileSync(path.join(dir, f))) }))
}

describe('C headers against the emulator\'s layouts', () => {
  it('agree on every structure offset and size, on the constants, and on every routine\'s signature', async () => {
    const source = [
      staticAsserts([...ALL_LAYOUTS, ...NDIS5_LAYOUTS]),
      // NDIS 5.1's constants (ndis51.h) against the NDIS 5 model's tables.
      constantAsserts(NDIS5.NDIS5_STATUS, '(unsigned long)'),
      constantAsserts(NDIS5.NDIS_ATTRIBUTE),
      constantAsserts(NDIS5.NDIS_DMA_SIZE),
      constantAsserts(NDIS5.NDIS_PARAMETER_TYPE),
      constantAsserts(NDIS5.NDIS_INTERRUPT_MODE),
      constantAsserts(NDIS5.NDIS_PER_PACKET_INFO),
      constantAsserts(NDIS5.NDIS_DEVICE_PNP_EVENT),
      constantAsserts(NDIS5.NDIS_POWER_PROFILE),
      constantAsserts(NDIS5.NDIS_MAC_OPTION),
      constantAsserts(NDIS5.NDIS_MEDIA_STATE),
      constantAsserts(NDIS5.OID5),
      constantAsserts(NDIS5.NDIS_HARDWARE_STATUS),
      constantAsserts({ NdisMedium802_3: NDIS5.NDIS5_MEDIUM.NdisMedium802_3, NdisInterfacePci: NDIS5.NDIS_INTERFACE_TYPE.NdisInterfacePci }),
      constantAsserts(NDIS_STATUS, '(unsigned long)'),
      constantAsserts(NDIS_OBJECT_TYPE),
      constantAsserts(OID),
      constantAsserts(NDIS_PACKET_TYPE),
      constantAsserts(CM_RESOURCE_TYPE),
      constantAsserts(POOL_TYPE),
      constantAsserts(EX_POOL_PRIORITY),
      constantAsserts(MEMORY_CACHING_TYPE),
      constantAsserts({ NDIS_SG_DMA_64_BIT_ADDRESS: NDIS_SG_DMA.NDIS_SG_DMA_64_BIT_ADDRESS, NDIS_SG_LIST_WRITE_TO_DEVICE: NDIS_SG_DMA.NDIS_SG_LIST_WRITE_TO_DEVICE }),
      // NDIS_FLAGS' NDIS_INTERFACE_TYPE_PCI is a TypeScript name; C has NdisInterfacePci (an enum).
      constantAsserts(Object.fromEntries(Object.entries(NDIS_FLAGS).filter(([k]) => k !== 'NDIS_INTERFACE_TYPE_PCI'))),
      // The receive-throttle structure's second member is a bit-field: its size, not its offsets.
      `_Static_assert(sizeof(NDIS_RECEIVE_THROTTLE_PARAMETERS) == ${RECEIVE_THROTTLE.size}, "NDIS_RECEIVE_THROTTLE_PARAMETERS");`,
      // Every routine dmalab implements, address taken: the linker imports each with the type its
      // prototype in the headers gives it.
      `void *Routines[] = { ${Object.keys(C_ROUTINES).map((r) => `(void *)${r}`).join(', ')} };`,
      'NTSTATUS DriverEntry(PDRIVER_OBJECT d, PUNICODE_STRING r) { return (NTSTATUS)(ULONG_PTR)Routines[d->Size]; }',
    ].join('\n')
    let wasm: Uint8Array | undefined
    try {
      wasm = (await compileDriver({
        sources: [{ path: '/layout-check/layouts.c', bytes: new TextEncoder().encode(source) }],
        headers: [],
        systemHeaders: systemHeaders(),
        includeDirs: [],
        defines: [],
        optimize: '0',
        imageBase: DRIVER_IMAGE_BASE,
      })).wasm
    } catch (error) {
      if (error instanceof CompileError) expect.fail(error.diagnostics)
      throw error
    }
    // ... and the headers' prototypes are the signatures dmalab's adapters take (wasm32 C ABI).
    const imported = Object.fromEntries(functionImports(wasm).filter((i) => i.module === 'env').map((i) => [i.name, { params: i.params, result: i.results }]))
    expect(imported).toEqual(C_ROUTINES)
  })

  it('lay the NDIS data-path structures out as 32-bit Windows does', () => {
    // ndis/nbl.h: the reserved areas are DECLSPEC_ALIGN(MEMORY_ALLOCATION_ALIGNMENT), 8 on x86.
    expect(NET_BUFFER_LIST.offset).toMatchObject({ Next: 0, FirstNetBuffer: 4, Context: 8, MiniportReserved: 48, Status: 76, NetBufferListInfo: 80 })
    expect(NET_BUFFER.offset).toMatchObject({ Next: 0, CurrentMdl: 4, CurrentMdlOffset: 8, DataLength: 12, MdlChain: 16, DataOffset: 20, MiniportReserved: 64 })
    expect(NDIS_OID_REQUEST.offset['DATA.QUERY_INFORMATION.BytesWritten']).toBe(36)
    // wdm.h packs resource descriptors at 4: the 64-bit Start is not 8-aligned.
    expect(CM_PARTIAL_RESOURCE_DESCRIPTOR.offset['u.Memory.Start']).toBe(4)
    expect(CM_PARTIAL_RESOURCE_DESCRIPTOR.size).toBe(16)
  })

  it('lay the NDIS 5.1 packet and characteristics out as 32-bit Windows does', () => {
    // "NDIS_PACKET structure": Private (32 bytes), the 4*sizeof(PVOID) reserved union, Reserved[2], ProtocolReserved.
    expect(NDIS_PACKET.offset).toMatchObject({ Private: 0, MiniportReserved: 32, MiniportReservedEx: 32, Reserved: 48, ProtocolReserved: 56 })
    expect(NDIS_PACKET_OOB_DATA.offset).toMatchObject({ TimeReceived: 8, HeaderSize: 16, Status: 28 })
    // NDIS51_MINIPORT_CHARACTERISTICS: 8 bytes of versions, 29 pointers (0xF0 on x64, where each is 8 bytes).
    expect(NDIS51_MINIPORT_CHARACTERISTICS.size).toBe(8 + 29 * 4)
  })
})
