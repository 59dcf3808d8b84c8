// Turning a linked C driver into one whose every memory access goes through dmalab.
//
// Each load and store instruction is replaced by a call to an imported hook with the pointer,
// the instruction's constant offset and (for stores) the value: `i32.load offset=12` becomes
// `i32.const 12; call $load_i32_4`, `i64.store offset=8` becomes `i32.const 8; call
// $store_i64_8` (the hook takes pointer, value, offset). The hooks add the offset, translate the
// address through the kernel page tables and access emulated memory (memory-hooks.ts). Nothing
// else in the code changes, byte for byte, apart from function indices (the hooks are new
// imports, so defined functions move up by their number), which is what lets the DWARF line
// table clang wrote stay exact: an address map (the `dmalab.addrmap` section) takes an offset in
// the instrumented code back to the original instruction.
//
// Why not binaryen, which the plan named: its `instrument-memory` pass keeps each load and store
// and only lets a hook rewrite the pointer, after which the instruction adds its constant offset
// itself and reads linear memory, so a global at a kernel address (clang folds `&global` into the
// offset: `i32.load offset=0x80800010`) could not be sent anywhere but linear memory there;
// its `safe-heap` pass does hand hooks pointer and offset, but binaryen.js re-emits the code
// without updating the DWARF (measured: every address after the first change is off), so
// findings would name wrong C lines. This rewrite is a single walk over the code (wasm-binary.ts
// decodes it), exact, and needs no 14 MB library at build time.
//
// The driver's initialized data (its data segments, linked at the driver-image base) leaves the
// module for a `dmalab.image` custom section, so instantiating the module writes nothing and the
// loader copies the data into kernel memory. The module keeps no linear memory at all: memory,
// data and data-count sections and the memory export are dropped, so an access that escaped the
// rewrite could not even validate. The result is walked once more; any load, store,
// memory.size/grow or bulk-memory instruction left is refused.
import { createHash } from 'node:crypto'
import {
  ByteReader, SECTION, WasmFormatError, customSection, decodeInstruction, encodeCustomSection, functionBodies, importedFunctionCount,
  memoryInstructions, readSections, withModuleName, type Section,
} from './wasm-binary.js'

/** The import module of the memory hooks. */
export const HOOK_MODULE = 'dmalab'
/** The custom section holding the driver image's data. */
export const IMAGE_SECTION = 'dmalab.image'
/** The custom section mapping instrumented code offsets back to the original ones. */
export const ADDRESS_MAP_SECTION = 'dmalab.addrmap'
/** Bumped whenever what this file produces changes (part of every cache key). */
export const INSTRUMENT_VERSION = 2

/** The driver's data as the loader places it: [base, end) with segments at their addresses. */
export interface DriverImage {
  /** Link address of the data (the x86 driver-image base). */
  readonly base: number
  /** One past the last byte of data and bss (`__data_end`). */
  readonly end: number
  readonly segments: ReadonlyArray<{ readonly address: number; readonly bytes: Uint8Array }>
}

export class InstrumentError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InstrumentError'
  }
}

// ---- hooks -------------------------------------------------------------------------------------

const I32 = 0x7f
const I64 = 0x7e
const F32 = 0x7d
const F64 = 0x7c

/** Per load/store opcode (0x28-0x3e, spec 5.4.6): the hook's name and the value type. */
const HOOKS: ReadonlyArray<readonly [string, number, 'load' | 'store']> = [
  ['load_i32_4', I32, 'load'], ['load_i64_8', I64, 'load'], ['load_f32_4', F32, 'load'], ['load_f64_8', F64, 'load'],
  ['load_i32_1', I32, 'load'], ['load_i32_1_u', I32, 'load'], ['load_i32_2', I32, 'load'], ['load_i32_2_u', I32, 'load'],
  ['load_i64_1', I64, 'load'], ['load_i64_1_u', I64, 'load'], ['load_i64_2', I64, 'load'], ['load_i64_2_u', I64, 'load'],
  ['load_i64_4', I64, 'load'], ['load_i64_4_u', I64, 'load'],
  ['store_i32_4', I32, 'store'], ['store_i64_8', I64, 'store'], ['store_f32_4', F32, 'store'], ['store_f64_8', F64, 'store'],
  ['store_i32_1', I32, 'store'], ['store_i32_2', I32, 'store'], ['store_i64_1', I64, 'store'], ['store_i64_2', I64, 'store'],
  ['store_i64_4', I64, 'store'],
]

// ---- byte output -------------------------------------------------------------------------------

class Out {
  private chunks: number[] = []

  byte(b: number): void {
    this.chunks.push(b & 0xff)
  }

  bytes(src: Uint8Array | readonly number[]): void {
    for (let i = 0; i < src.length; i++) this.chunks.push(src[i]!)
  }

  uleb(n: number): void {
    do {
      let b = n % 128
      n = Math.floor(n / 128)
      if (n > 0) b |= 0x80
      this.chunks.push(b)
    } while (n > 0)
  }

  /** An unsigned LEB of at least `width` bytes (wasm-ld pads relocated indices to 5). */
  ulebWidth(n: number, width: number): void {
    for (let i = 0; i < width - 1 || n >= 128; i++) {
      this.chunks.push((n % 128) | 0x80)
      n = Math.floor(n / 128)
    }
    this.chunks.push(n)
  }

  sleb32(n: number): void {
    let v = n | 0
    for (;;) {
      const b = v & 0x7f
      v >>= 7
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
        this.chunks.push(b)
        return
      }
      this.chunks.push(b | 0x80)
    }
  }

  get length(): number {
    return this.chunks.length
  }

  toBytes(): Uint8Array {
    return Uint8Array.from(this.chunks)
  }
}

function section(id: number, payload: Uint8Array): Uint8Array {
  const o = new Out()
  o.byte(id)
  o.uleb(payload.length)
  o.bytes(payload)
  return o.toBytes()
}

// ---- the rewrite -------------------------------------------------------------------------------

/** One piece of the address map: from `newStart` on, old = oldStart (+ distance, if linear). */
interface MapEntry {
  readonly newStart: number
  readonly oldStart: number
  readonly linear: boolean
}

interface Shift {
  /** Function imports of the linked module; indices from here move up by `hooks`. */
  readonly imports: number
  readonly hooks: number
}

const shifted = (index: number, s: Shift): number => (index >= s.imports ? index + s.hooks : index)

/** Rewrites an element section's function indices (segment kinds 0-3, spec 5.5.12). */
function rewriteElements(bytes: Uint8Array, sec: Section, s: Shift): Uint8Array {
  const r = new ByteReader(bytes, sec.start, sec.end)
  const o = new Out()
  const n = r.uleb()
  o.uleb(n)
  for (let i = 0; i < n; i++) {
    const flags = r.uleb()
    if (flags > 3) throw new InstrumentError(`element segment ${i}: kind ${flags} (expressions) is not supported`)
    o.uleb(flags)
    const copyFrom = r.pos
    if (flags === 2) r.uleb()
    if (flags === 0 || flags === 2) {
      for (;;) {
        const ins = decodeInstruction(r)
        r.pos = ins.end
        if (ins.op === 0x0b) break
      }
    }
    if (flags !== 0) r.u8() // elemkind
    o.bytes(bytes.subarray(copyFrom, r.pos))
    const count = r.uleb()
    o.uleb(count)
    for (let k = 0; k < count; k++) o.uleb(shifted(r.uleb(), s))
  }
  return o.toBytes()
}

function rewriteExports(bytes: Uint8Array, sec: Section, s: Shift): Uint8Array {
  const r = new ByteReader(bytes, sec.start, sec.end)
  const kept: Array<[Uint8Array, number, number]> = []
  const n = r.uleb()
  for (let i = 0; i < n; i++) {
    const at = r.pos
    r.name()
    const nameBytes = bytes.subarray(at, r.pos)
    const kind = r.u8()
    const index = r.uleb()
    if (kind === 2) continue // the memory: there is none any more
    kept.push([nameBytes, kind, kind === 0 ? shifted(index, s) : index])
  }
  const o = new Out()
  o.uleb(kept.length)
  for (const [name, kind, index] of kept) {
    o.bytes(name)
    o.byte(kind)
    o.uleb(index)
  }
  return o.toBytes()
}

/** The `name` section with function indices moved (subsections 1, 2, 3) and memory/data names dropped. */
function rewriteNames(bytes: Uint8Array, sec: Section, s: Shift): Uint8Array {
  const r = new ByteReader(bytes, sec.start, sec.end)
  const o = new Out()
  while (!r.done) {
    const id = r.u8()
    const size = r.uleb()
    const end = r.pos + size
    if (id === 6 || id === 9) {
      r.pos = end
      continue
    }
    const sub = new Out()
    if (id === 1 || id === 2 || id === 3) {
      const count = r.uleb()
      sub.uleb(count)
      for (let i = 0; i < count; i++) {
        sub.uleb(shifted(r.uleb(), s))
        const from = r.pos
        if (id === 1) {
          r.name()
        } else {
          const inner = r.uleb()
          for (let k = 0; k < inner; k++) {
            r.uleb()
            r.name()
          }
        }
        sub.bytes(bytes.subarray(from, r.pos))
      }
    } else {
      sub.bytes(bytes.subarray(r.pos, end))
    }
    r.pos = end
    o.byte(id)
    o.uleb(sub.length)
    o.bytes(sub.toBytes())
  }
  return encodeCustomSection('name', o.toBytes())
}

/**
 * Instruments a linked driver module (see the top of this file). `imageBase` is where the
 * driver's data must have been linked; data elsewhere, or more of it than fits the driver-image
 * region up to `imageLimit`, is refused.
 */
export function instrument(linked: Uint8Array, imageBase: number, imageLimit: number): Uint8Array {
  if (readImage(linked) !== undefined) return linked
  const sections = readSections(linked)
  if (sections.some((sec) => sec.id === SECTION.start)) throw new InstrumentError('the module has a start function (dmalab drivers have none: DriverEntry is the entry)')
  const segments = dataSegments(linked)
  const end = dataEnd(linked, sections) ?? segments.reduce((e, x) => Math.max(e, x.address + x.bytes.length), imageBase)
  for (const x of segments) {
    if (x.address < imageBase || x.address + x.bytes.length > end) {
      throw new InstrumentError(`data at 0x${x.address.toString(16)} is outside the driver image (0x${imageBase.toString(16)}..; linked with another --global-base?)`)
    }
  }
  if (end > imageLimit) throw new InstrumentError(`the driver's data and bss (${end - imageBase} bytes) do not fit the ${imageLimit - imageBase}-byte driver image region`)

  // Pass 1: which hooks the code needs, and whether it holds anything dmalab cannot instrument.
  const bodies = functionBodies(linked, sections)
  const used = new Set<number>()
  for (const body of bodies) {
    const r = new ByteReader(linked, body.code, body.end)
    while (r.pos < body.end) {
      const ins = decodeInstruction(r)
      if (ins.kind === 'unsupported' || ins.kind === 'memory') throw new InstrumentError(`${ins.name} at 0x${ins.at.toString(16)}: dmalab cannot route it through the page tables (build with dmalab build's flags)`)
      if (ins.kind === 'load-store') used.add(ins.op)
      r.pos = ins.end
    }
  }
  const hookOps = [...used].sort((a, b) => a - b)
  const imports = importedFunctionCount(linked, sections)
  const shift: Shift = { imports, hooks: hookOps.length }

  // Types: one per distinct hook signature, appended (existing type indices do not move).
  const typeSec = sections.find((x) => x.id === SECTION.type)
  const typeReader = typeSec === undefined ? undefined : new ByteReader(linked, typeSec.start, typeSec.end)
  const typeCount = typeReader?.uleb() ?? 0
  const signatures: string[] = []
  const hookType = new Map<number, number>()
  for (const op of hookOps) {
    const [, valueType, kind] = HOOKS[op - 0x28]!
    const sig = kind === 'load' ? `l${valueType}` : `s${valueType}`
    let t = signatures.indexOf(sig)
    if (t < 0) t = signatures.push(sig) - 1
    hookType.set(op, typeCount + t)
  }
  const hookIndex = new Map(hookOps.map((op, i) => [op, imports + i]))

  /** The import section: the module's imports, unchanged (none if it had no section), then the hooks. */
  const importSection = (sec: { start: number; end: number } | undefined): Uint8Array => {
    const r = sec === undefined ? undefined : new ByteReader(linked, sec.start, sec.end)
    const n = r?.uleb() ?? 0
    const o = new Out()
    o.uleb(n + hookOps.length)
    if (r !== undefined) {
      // Existing imports first, unchanged; a memory import is refused (there is no memory).
      const from = r.pos
      for (let i = 0; i < n; i++) {
        r.name()
        r.name()
        const kind = r.u8()
        if (kind === 2) throw new InstrumentError('the module imports a linear memory (dmalab drivers have none)')
        if (kind === 0) r.uleb()
        else if (kind === 1) { r.u8(); const f = r.u8(); r.uleb(); if (f & 1) r.uleb() }
        else if (kind === 3) { r.u8(); r.u8() }
        else { r.u8(); r.uleb() }
      }
      o.bytes(linked.subarray(from, r.pos))
    }
    for (const op of hookOps) {
      o.uleb(HOOK_MODULE.length)
      o.bytes(new TextEncoder().encode(HOOK_MODULE))
      const name = new TextEncoder().encode(HOOKS[op - 0x28]![0])
      o.uleb(name.length)
      o.bytes(name)
      o.byte(0)
      o.uleb(hookType.get(op)!)
    }
    return section(SECTION.import, o.toBytes())
  }
  // A driver that calls no routine at all links without an import section: the hooks need one,
  // right after the type section (sections come in id order).
  const hasImports = sections.some((x) => x.id === SECTION.import)

  const parts: Uint8Array[] = [linked.subarray(0, 8)]
  const addressMap: MapEntry[] = []
  let offset = 8
  const emit = (bytes: Uint8Array): void => {
    parts.push(bytes)
    offset += bytes.length
  }
  for (const sec of sections) {
    switch (sec.id) {
      case SECTION.type: {
        const o = new Out()
        o.uleb(typeCount + signatures.length)
        o.bytes(linked.subarray(typeReader!.pos, sec.end))
        for (const sig of signatures) {
          const valueType = Number(sig.slice(1))
          // Loads: (pointer, offset) -> value. Stores: (pointer, value, offset) -> ().
          o.bytes(sig[0] === 'l' ? [0x60, 2, I32, I32, 1, valueType] : [0x60, 3, I32, valueType, I32, 0])
        }
        emit(section(SECTION.type, o.toBytes()))
        if (!hasImports && hookOps.length > 0) emit(importSection(undefined))
        break
      }
      case SECTION.import:
        emit(importSection(sec))
        break
      case SECTION.memory: case SECTION.data: case SECTION.dataCount:
        break
      case SECTION.global: {
        // Globals keep their indices; one initialized with a function reference would need its
        // index moved, which C never asks for: refused rather than left pointing elsewhere.
        const r = new ByteReader(linked, sec.start, sec.end)
        const n = r.uleb()
        for (let i = 0; i < n; i++) {
          r.u8()
          r.u8()
          for (;;) {
            const ins = decodeInstruction(r)
            if (ins.kind === 'ref.func' || ins.kind === 'unsupported') throw new InstrumentError(`global ${i} has an initializer dmalab does not support`)
            r.pos = ins.end
            if (ins.op === 0x0b) break
          }
        }
        emit(linked.subarray(sec.offset, sec.end))
        break
      }
      case SECTION.export:
        emit(section(SECTION.export, rewriteExports(linked, sec, shift)))
        break
      case SECTION.element:
        emit(section(SECTION.element, rewriteElements(linked, sec, shift)))
        break
      case SECTION.code: {
        const o = new Out()
        o.uleb(bodies.length)
        for (const body of bodies) {
          const b = new Out()
          b.bytes(linked.subarray(body.start, body.code))
          // Positions inside the code section's contents (what DWARF counts): the body's code
          // starts after its size LEB, which is written once the body's length is known.
          const bodyCode = new Out()
          const entries: Array<[number, number, boolean]> = [[0, body.code - sec.start, true]]
          const r = new ByteReader(linked, body.code, body.end)
          while (r.pos < body.end) {
            const ins = decodeInstruction(r)
            if (ins.kind === 'load-store') {
              entries.push([bodyCode.length, ins.at - sec.start, false])
              bodyCode.byte(0x41)
              bodyCode.sleb32(ins.offset)
              bodyCode.byte(0x10)
              bodyCode.uleb(hookIndex.get(ins.op)!)
              entries.push([bodyCode.length, ins.end - sec.start, true])
            } else if ((ins.kind === 'call' || ins.kind === 'ref.func') && ins.index >= imports) {
              bodyCode.bytes(linked.subarray(ins.at, ins.indexAt))
              const width = ins.end - ins.indexAt
              const before = bodyCode.length
              bodyCode.ulebWidth(shifted(ins.index, shift), width)
              if (bodyCode.length - before !== width) entries.push([bodyCode.length, ins.end - sec.start, true])
            } else {
              bodyCode.bytes(linked.subarray(ins.at, ins.end))
            }
            r.pos = ins.end
          }
          b.bytes(bodyCode.toBytes())
          const bodyBytes = b.toBytes()
          const localsLength = body.code - body.start
          o.uleb(bodyBytes.length)
          const codeAt = o.length + localsLength
          for (const [at, old, linear] of entries) addressMap.push({ newStart: codeAt + at, oldStart: old, linear })
          o.bytes(bodyBytes)
        }
        emit(section(SECTION.code, o.toBytes()))
        break
      }
      case SECTION.custom:
        if (sec.name === 'name') emit(rewriteNames(linked, sec, shift))
        else emit(linked.subarray(sec.offset, sec.end))
        break
      default:
        emit(linked.subarray(sec.offset, sec.end))
    }
  }
  emit(encodeCustomSection(ADDRESS_MAP_SECTION, encodeAddressMap(addressMap)))
  emit(encodeCustomSection(IMAGE_SECTION, encodeImage({ base: imageBase, end, segments })))
  let out: Uint8Array = new Uint8Array(offset)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  const left = memoryInstructions(out)
  if (left.length > 0) throw new InstrumentError(`${left[0]!.instruction} at 0x${left[0]!.offset.toString(16)} would touch memory without going through dmalab`)
  try {
    new WebAssembly.Module(out)
  } catch (error) {
    throw new InstrumentError(`the instrumented module does not validate: ${(error as Error).message}`)
  }
  // Named by content, so a stack frame leads back to this module's debug information.
  out = withModuleName(out, `dmalab-c-${createHash('sha256').update(out).digest('hex').slice(0, 16)}`)
  return out
}

// ---- the address map -----------------------------------------------------------------------------

function encodeAddressMap(entries: readonly MapEntry[]): Uint8Array {
  const o = new Out()
  o.uleb(1) // version
  o.uleb(entries.length)
  let prevNew = 0
  for (const e of entries) {
    o.uleb(e.newStart - prevNew)
    o.uleb(e.oldStart)
    o.byte(e.linear ? 1 : 0)
    prevNew = e.newStart
  }
  return o.toBytes()
}

/**
 * From an offset in the instrumented code section back to the original one (what the DWARF
 * counts); identity for a module without an address map.
 */
export function addressMapOf(bytes: Uint8Array): (codeOffset: number) => number {
  const section = customSection(bytes, ADDRESS_MAP_SECTION)
  if (section === undefined) return (x) => x
  const r = new ByteReader(section)
  if (r.uleb() !== 1) throw new InstrumentError('unknown address map version')
  const n = r.uleb()
  const newStart = new Float64Array(n)
  const oldStart = new Float64Array(n)
  const linear = new Uint8Array(n)
  let prev = 0
  for (let i = 0; i < n; i++) {
    prev += r.uleb()
    newStart[i] = prev
    oldStart[i] = r.uleb()
    linear[i] = r.u8()
  }
  return (x) => {
    let lo = 0
    let hi = n - 1
    if (n === 0 || x < newStart[0]!) return x
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (newStart[mid]! <= x) lo = mid
      else hi = mid - 1
    }
    return linear[lo] === 1 ? oldStart[lo]! + (x - newStart[lo]!) : oldStart[lo]!
  }
}

// ---- the driver image ----------------------------------------------------------------------------

/** The value of the exported i32 global `__data_end` (a constant initializer), or undefined. */
function dataEnd(bytes: Uint8Array, sections: readonly Section[]): number | undefined {
  const exp = sections.find((x) => x.id === SECTION.export)
  const glob = sections.find((x) => x.id === SECTION.global)
  if (exp === undefined || glob === undefined) return undefined
  let globalIndex = -1
  const r = new ByteReader(bytes, exp.start, exp.end)
  const n = r.uleb()
  for (let i = 0; i < n; i++) {
    const name = r.name()
    const kind = r.u8()
    const index = r.uleb()
    if (kind === 3 && name === '__data_end') globalIndex = index
  }
  if (globalIndex < 0) return undefined
  // Global indices count imported globals first.
  const imp = sections.find((x) => x.id === SECTION.import)
  let importedGlobals = 0
  if (imp !== undefined) {
    const ir = new ByteReader(bytes, imp.start, imp.end)
    const count = ir.uleb()
    for (let i = 0; i < count; i++) {
      ir.name()
      ir.name()
      const kind = ir.u8()
      if (kind === 0) ir.uleb()
      else if (kind === 1) { ir.u8(); const f = ir.u8(); ir.uleb(); if (f & 1) ir.uleb() }
      else if (kind === 2) { const f = ir.u8(); ir.uleb(); if (f & 1) ir.uleb() }
      else if (kind === 3) { importedGlobals++; ir.u8(); ir.u8() }
      else { ir.u8(); ir.uleb() }
    }
  }
  const gr = new ByteReader(bytes, glob.start, glob.end)
  const count = gr.uleb()
  for (let i = 0; i < count; i++) {
    gr.u8() // value type
    gr.u8() // mutability
    const op = gr.u8()
    const value = op === 0x41 ? gr.sleb() >>> 0 : undefined
    if (op !== 0x41) {
      gr.pos--
      for (;;) {
        const ins = decodeInstruction(gr)
        gr.pos = ins.end
        if (ins.op === 0x0b) break
      }
    } else {
      gr.u8() // end
    }
    if (importedGlobals + i === globalIndex) return value
  }
  return undefined
}

/** The active data segments of a module (spec 5.5.12): address and bytes. */
export function dataSegments(bytes: Uint8Array): Array<{ address: number; bytes: Uint8Array }> {
  const data = readSections(bytes).find((s) => s.id === SECTION.data)
  if (data === undefined) return []
  const r = new ByteReader(bytes, data.start, data.end)
  const out: Array<{ address: number; bytes: Uint8Array }> = []
  const n = r.uleb()
  for (let i = 0; i < n; i++) {
    const flags = r.uleb()
    if (flags === 1) throw new InstrumentError(`data segment ${i} is passive (a build with bulk memory?)`)
    if (flags === 2) r.uleb()
    if (flags !== 0 && flags !== 2) throw new WasmFormatError(`data segment ${i}: unknown flags ${flags}`)
    if (r.u8() !== 0x41) throw new InstrumentError(`data segment ${i}: its address is not a constant (a relocatable build?)`)
    const address = r.sleb() >>> 0
    if (r.u8() !== 0x0b) throw new InstrumentError(`data segment ${i}: its address is not a constant`)
    const len = r.uleb()
    const at = r.pos
    r.skip(len)
    out.push({ address, bytes: bytes.slice(at, at + len) })
  }
  return out
}

function encodeImage(image: DriverImage): Uint8Array {
  const size = 16 + image.segments.reduce((n, s) => n + 8 + s.bytes.length, 0)
  const out = new Uint8Array(size)
  const v = new DataView(out.buffer)
  v.setUint32(0, INSTRUMENT_VERSION, true)
  v.setUint32(4, image.base, true)
  v.setUint32(8, image.end, true)
  v.setUint32(12, image.segments.length, true)
  let at = 16
  for (const s of image.segments) {
    v.setUint32(at, s.address, true)
    v.setUint32(at + 4, s.bytes.length, true)
    out.set(s.bytes, at + 8)
    at += 8 + s.bytes.length
  }
  return out
}

/** The driver image recorded in an instrumented module, or undefined for a plain module. */
export function readImage(bytes: Uint8Array): DriverImage | undefined {
  const section = customSection(bytes, IMAGE_SECTION)
  if (section === undefined) return undefined
  const r = new ByteReader(section)
  const version = r.u32()
  if (version !== INSTRUMENT_VERSION) throw new InstrumentError(`the module was instrumented by another dmalab (image version ${version}); build it again`)
  const base = r.u32()
  const end = r.u32()
  const count = r.u32()
  const segments: Array<{ address: number; bytes: Uint8Array }> = []
  for (let i = 0; i < count; i++) {
    const address = r.u32()
    const len = r.u32()
    const at = r.pos
    r.skip(len)
    segments.push({ address, bytes: section.slice(at, at + len) })
  }
  return { base, end, segments }
}
