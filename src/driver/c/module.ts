// A built C driver as a miniport module: compiled once (its WebAssembly module, image and debug
// information are shared by every machine that loads it, e.g. the hundreds of runs of a sweep),
// bound to each machine when it loads (its own image, stack and instance).
import type { Kernel } from '../../kernel/kernel.js'
import type { MiniportModule } from '../../ndis/miniport.js'
import type { NdisApi } from '../../ndis/api.js'
import { C_ROUTINES, cRoutines } from './imports.js'
import { CDriverInstance, type ImportTable } from './instance.js'
import { readImage, type DriverImage } from './instrument.js'
import { CMiniportBridge } from './miniport.js'
import { CNetObjects } from './net-objects.js'
import type { NblPools } from '../../ndis/nbl.js'
import type { Packets } from '../../ndis/v5/packets.js'
import { CPackets } from './net-packets.js'
import { CMiniport5 } from './miniport5.js'
import { writeDriverObject, writeUnicodeString } from './ndis-imports.js'
import { moduleSymbols } from './symbols.js'
import { HOOK_NAMES } from './memory-hooks.js'
import { functionImports } from './wasm-binary.js'
import { DRIVER_OBJECT } from './structs.js'

/** NTSTATUS DriverEntry returns when the machine has no memory left for the image or stack. */
const STATUS_INSUFFICIENT_RESOURCES = 0xc000_009a

/** A miniport module that is a C driver: machines bind it before loading (Machine.load). */
export interface CMiniportModule extends MiniportModule {
  readonly cDriver: CompiledDriver
}

export function isCMiniport(m: unknown): m is CMiniportModule {
  return typeof m === 'object' && m !== null && (m as { cDriver?: unknown }).cDriver instanceof CompiledDriver
}

/** The driver cannot be loaded: it imports what dmalab does not provide, or is not a dmalab build. */
export class CDriverLoadError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CDriverLoadError'
  }
}

/** The imports of a built module dmalab cannot provide (unknown, or another signature). */
export function unresolvedImports(wasm: Uint8Array): string[] {
  const out: string[] = []
  for (const imp of functionImports(wasm)) {
    if (imp.module === 'dmalab' && HOOK_NAMES.includes(imp.name)) continue
    const known = imp.module === 'env' ? C_ROUTINES[imp.name] : undefined
    if (known === undefined) out.push(`${imp.name}`)
    else if (known.params !== imp.params || known.result !== imp.results) out.push(`${imp.name} (declared with another signature than dmalab's headers give it)`)
  }
  return out
}

export class CompiledDriver {
  readonly name: string
  readonly wasm: Uint8Array
  readonly module: WebAssembly.Module
  readonly image: DriverImage

  constructor(wasm: Uint8Array, name: string) {
    const image = readImage(wasm)
    if (image === undefined) throw new CDriverLoadError(`${name}: not a module built by dmalab build (no driver image)`)
    const missing = unresolvedImports(wasm)
    if (missing.length > 0) {
      throw new CDriverLoadError(`${name} calls ${missing.length === 1 ? 'a routine' : 'routines'} dmalab does not implement for C drivers: ${missing.join(', ')}`)
    }
    this.name = name
    this.wasm = wasm
    this.image = image
    this.module = new WebAssembly.Module(wasm)
    if (!WebAssembly.Module.exports(this.module).some((e) => e.name === 'DriverEntry' && e.kind === 'function')) {
      throw new CDriverLoadError(`${name} has no DriverEntry`)
    }
    moduleSymbols(wasm, name)
  }

  /** The miniport module the loader hands out: Machine.load binds it to its kernel. */
  miniport(): CMiniportModule {
    return {
      cDriver: this,
      default: () => {
        throw new Error(`${this.name} is a C driver: load it with m.load(), which binds it to the machine`)
      },
    }
  }

  /**
   * DriverEntry for one machine: places the image and stack, instantiates, calls the C
   * DriverEntry. `pools` are NDIS's NET_BUFFER_LIST pools, whose blocks hold the NBLs the driver
   * sees; `packets` NDIS 5's packet pools, whose blocks hold the NDIS_PACKETs.
   */
  bind(kernel: Kernel, pools: NblPools, packets: Packets): MiniportModule {
    const driver = this
    const entry = (ndis: NdisApi, registryPath?: string): number => {
      const c = new CDriverInstance(kernel, driver)
      c.ndis = ndis
      const objects = new CNetObjects(c, pools)
      const bridge = new CMiniportBridge(c, objects)
      const packets5 = new CPackets(c, objects, packets)
      const routines = cRoutines(c, bridge, objects, { bridge, objects, packets: packets5, miniport: new CMiniport5(c, bridge, packets5) })
      const imports: ImportTable = {}
      for (const [name, r] of Object.entries(routines)) imports[name] = r.fn
      if (!c.load(driver, imports)) return STATUS_INSUFFICIENT_RESOURCES
      bridge.driverObject = ndis.DriverObject
      bridge.driverObjectVa = writeDriverObject(c, ndis.DriverObject.DriverName)
      const registry = writeUnicodeString(c, registryPath ?? '')
      if (bridge.driverObjectVa === 0 || registry === 0) return STATUS_INSUFFICIENT_RESOURCES
      const main = c.exported('DriverEntry')!
      const status = Number(c.enter(() => main(bridge.driverObjectVa, registry)) ?? 0) >>> 0
      // A driver that sets DriverObject->DriverUnload gets it called at unload, as NDIS does
      // when the characteristics name no UnloadHandler.
      const unload = kernel.memory.read32(bridge.driverObjectVa + DRIVER_OBJECT.offset.DriverUnload!)
      const fn = c.functionAt(unload)
      if (fn !== undefined && ndis.DriverObject.DriverUnload === null) {
        ndis.DriverObject.DriverUnload = () => void c.enter(() => fn(bridge.driverObjectVa))
      }
      return status
    }
    return { default: entry as MiniportModule['default'] }
  }
}
