// One C driver on one machine: its image in kernel memory, its kernel stack, its WebAssembly
// instance, and the means to call into it and to hand it objects.
//
// The C program's address space is the 32-bit kernel address space: the driver's data and bss
// are linked at the x86 driver-image base and copied into frames mapped there at load (as a
// loader maps a driver's sections), its stack pointer (the `__stack_pointer` global clang keeps
// the C stack in) points into a kernel stack (12 KiB and a guard page below it, as x86
// Windows' KERNEL_STACK_SIZE), and every load and store goes through the page tables
// (memory-hooks.ts). The wasm module has no linear memory at all.
//
// Function pointers are indices into the module's function table: NDIS calls a handler by
// looking its index up; host routines a driver calls through a pointer (DMA_OPERATIONS) are
// put in the table as functions of a small helper module (hostFunction), so C code calls them as
// `Adapter->DmaOperations->AllocateCommonBuffer(Adapter, ...)`.
import { PAGE_SIZE } from '../../hw/address.js'
import { PTE } from '../../kernel/address-space.js'
import type { Kernel } from '../../kernel/kernel.js'
import { POOL_TYPE } from '../../kernel/wdm.js'
import { tagValue } from '../../kernel/tags.js'
import type { NdisApi } from '../../ndis/api.js'
import type { DriverImage } from './instrument.js'
import { memoryHooks } from './memory-hooks.js'
import { trapOf } from './traps.js'

/** V8 frames a trap in C code records (wasm frames, and dmalab's frames between nested calls). */
const TRAP_STACK_DEPTH = 64

/** The pool tag of the structures dmalab hands a C driver ('Ndis' in a pool dump). */
const MARSHAL_TAG = tagValue('sidN')

type WasmFunction = (...args: number[]) => number | bigint | undefined

/** What a compiled driver gives each machine that loads it. */
export interface CompiledDriverParts {
  readonly name: string
  readonly module: WebAssembly.Module
  readonly image: DriverImage
}

/** Host imports a driver module may ask for, by WDK name, built for one instance. */
export type ImportTable = Record<string, (...args: never[]) => unknown>

export class CDriverInstance {
  readonly kernel: Kernel
  readonly name: string
  /** The `ndis` object DriverEntry was given (set at DriverEntry, before any C code runs). */
  ndis!: NdisApi
  private instance!: WebAssembly.Instance
  private table!: WebAssembly.Table
  /** NDIS objects by the 32-bit value the driver holds for them, and back. */
  private readonly handleValues = new Map<object, number>()
  private readonly handleObjects = new Map<number, object>()

  constructor(kernel: Kernel, parts: CompiledDriverParts) {
    this.kernel = kernel
    this.name = parts.name
  }

  /**
   * Maps the image and the kernel stack, then instantiates the module with the memory hooks
   * and `imports`. False when kernel memory ran out for them (the load fails as on Windows).
   */
  load(parts: CompiledDriverParts, imports: ImportTable): boolean {
    const k = this.kernel
    if (k.space.arch.pointerBytes !== 4) throw new Error('a C driver runs on the 32-bit machine: createMachine({ arch: \'x86\' })')
    const { image } = parts
    const imagePages = Math.max(1, Math.ceil((image.end - image.base) / PAGE_SIZE))
    const frames = k.mm.allocateFrames(imagePages, { kind: 'kernel', label: `driver image ${this.name}`, driver: true })
    if (frames === null) return false
    k.space.reserveFixed(image.base, imagePages)
    k.mm.fillFrames(frames.pfns, 'zero')
    frames.pfns.forEach((pfn, i) => k.space.map(image.base + i * PAGE_SIZE, pfn * PAGE_SIZE, PTE.WRITE))
    for (const s of image.segments) k.memory.writeFrom(s.address, s.bytes, 0, s.bytes.length)

    const stackPages = k.space.arch.kernelStackBytes / PAGE_SIZE
    const stack = k.mm.allocateMapped(
      stackPages,
      { kind: 'kernel', label: `kernel stack of ${this.name}`, driver: false },
      { guardBefore: 1, guardNote: { guard: 'kernel-stack', what: 'the guard page below the driver\'s kernel stack' } },
      'uninitialized',
    )
    if (stack === null) return false

    this.instance = new WebAssembly.Instance(parts.module, { env: imports as WebAssembly.Imports[string], dmalab: memoryHooks(k.memory) })
    this.table = this.instance.exports.__indirect_function_table as WebAssembly.Table
    const sp = this.instance.exports.__stack_pointer as WebAssembly.Global
    sp.value = stack.va + stackPages * PAGE_SIZE
    return true
  }

  /** An exported function (DriverEntry). */
  exported(name: string): WasmFunction | undefined {
    const f = this.instance.exports[name]
    return typeof f === 'function' ? (f as WasmFunction) : undefined
  }

  /** The driver's function a function pointer holds, or undefined for 0 or a non-function. */
  functionAt(pointer: number): WasmFunction | undefined {
    if (pointer === 0 || pointer >= this.table.length) return undefined
    return (this.table.get(pointer) ?? undefined) as WasmFunction | undefined
  }

  /**
   * Calls driver code; a WebAssembly trap becomes the DriverTrap Windows would raise, with the
   * C stack, for the DriverCaller around every handler to report (0x7E at the C line).
   */
  enter<T>(fn: () => T): T {
    const sp = this.instance.exports.__stack_pointer as WebAssembly.Global
    const saved = sp.value
    // V8 records a trap's frames when it raises it, as many as Error.stackTraceLimit says (10
    // by default, which a C handler's own calls, their inlined frames and the glue around them
    // soon exceed): deep enough here that the finding's stack reaches the handler NDIS called.
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = TRAP_STACK_DEPTH
    try {
      return fn()
    } catch (error) {
      throw trapOf(error) ?? error
    } finally {
      Error.stackTraceLimit = limit
      // A trap unwinds past the epilogues that would restore the stack pointer.
      sp.value = saved
    }
  }

  /** The 32-bit value the driver holds for an NDIS object (allocated on first sight). */
  handle(object: object | null | undefined): number {
    if (object === null || object === undefined) return 0
    let va = this.handleValues.get(object)
    if (va === undefined) {
      // A handle points at something in kernel memory, as NDIS's handles do.
      va = this.allocate(16)
      if (va === 0) throw new Error('no memory for an NDIS handle')
      this.handleValues.set(object, va)
      this.handleObjects.set(va, object)
    }
    return va
  }

  /** The NDIS object behind a handle value; an unknown value is passed on as the number, for NDIS to refuse. */
  object(handle: number): unknown {
    return this.handleObjects.get(handle >>> 0) ?? handle >>> 0
  }

  /** System memory (nonpaged pool, not the driver's) for a structure handed to the driver. */
  allocate(bytes: number): number {
    return this.kernel.pool.allocate(POOL_TYPE.NonPagedPoolNx, bytes, MARSHAL_TAG, { driver: false, zero: true })
  }

  free(va: number): void {
    if (va !== 0 && !this.kernel.log.stopped) this.kernel.pool.free(va, { routine: 'NDIS' })
  }

  /** Puts a host function in the driver's function table; returns its index (a function pointer). */
  hostFunction(fn: (...args: never[]) => unknown, signature: HostSignature): number {
    const index = this.table.grow(1)
    this.table.set(index, wasmFunction(fn, signature))
    return index
  }
}

/** Parameter and result types of a host function put in the table ('i' i32, 'j' i64). */
export interface HostSignature {
  readonly params: string
  readonly result: '' | 'i' | 'j'
}

/**
 * A host function as a WebAssembly function (only those go in a function table): a tiny module
 * importing it and exporting it back, with the signature the C side calls it with (the C call's
 * call_indirect checks it).
 */
function wasmFunction(fn: (...args: never[]) => unknown, sig: HostSignature): (...args: never[]) => unknown {
  const type = (c: string): number => (c === 'j' ? 0x7e : 0x7f)
  const params = [...sig.params].map(type)
  const results = sig.result === '' ? [] : [type(sig.result)]
  const functionType = [0x60, params.length, ...params, results.length, ...results]
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    // type section: one function type
    0x01, functionType.length + 1, 0x01, ...functionType,
    // import section: "h" "f" (func (type 0))
    0x02, 0x07, 0x01, 0x01, 0x68, 0x01, 0x66, 0x00, 0x00,
    // export section: "f" (func 0)
    0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00,
  ]
  const instance = new WebAssembly.Instance(new WebAssembly.Module(Uint8Array.from(bytes)), { h: { f: fn as WebAssembly.ImportValue } })
  return instance.exports.f as (...args: never[]) => unknown
}
