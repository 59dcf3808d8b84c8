// Reading and patching WebAssembly binaries (WebAssembly Core Specification 2.0, chapter 5
// "Binary Format"): the section list, custom sections, the module name, and a walk over every
// instruction of the code section.
//
// The walk is how dmalab instruments a C driver (instrument.ts) and proves afterwards that it
// cannot touch memory behind the page tables' back: no load, store, memory.size/grow or
// bulk-memory instruction may be left (every access must be a call to a hook).

/** Section ids (spec 5.5.2). */
export const SECTION = {
  custom: 0, type: 1, import: 2, function: 3, table: 4, memory: 5, global: 6, export: 7, start: 8, element: 9, code: 10, data: 11, dataCount: 12,
} as const

export interface Section {
  readonly id: number
  /** Custom sections only: the section's name. */
  readonly name: string
  /** Offset of the whole section (its id byte) in the module. */
  readonly offset: number
  /** Offset of the section's contents (after the size, and for custom sections after the name). */
  readonly start: number
  readonly end: number
}

export class WasmFormatError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'WasmFormatError'
  }
}

/** A cursor over a byte array with the LEB128 decoders the binary format uses. */
export class ByteReader {
  readonly bytes: Uint8Array
  pos: number
  readonly end: number

  constructor(bytes: Uint8Array, pos = 0, end = bytes.length) {
    this.bytes = bytes
    this.pos = pos
    this.end = end
  }

  get done(): boolean {
    return this.pos >= this.end
  }

  u8(): number {
    if (this.pos >= this.end) throw new WasmFormatError(`unexpected end of data at offset ${this.pos}`)
    return this.bytes[this.pos++]!
  }

  /** Unsigned LEB128 up to 53 bits (exact as a number). */
  uleb(): number {
    let result = 0
    let scale = 1
    for (let i = 0; i < 10; i++) {
      const b = this.u8()
      result += (b & 0x7f) * scale
      if ((b & 0x80) === 0) return result
      scale *= 128
    }
    throw new WasmFormatError(`LEB128 too long at offset ${this.pos}`)
  }

  /** Signed LEB128, skipped or read as a number (exact up to 53 bits). */
  sleb(): number {
    let result = 0
    let scale = 1
    for (let i = 0; i < 10; i++) {
      const b = this.u8()
      result += (b & 0x7f) * scale
      scale *= 128
      if ((b & 0x80) === 0) return (b & 0x40) !== 0 ? result - scale : result
    }
    throw new WasmFormatError(`LEB128 too long at offset ${this.pos}`)
  }

  u16(): number {
    return this.u8() | (this.u8() << 8)
  }

  u32(): number {
    return (this.u8() | (this.u8() << 8) | (this.u8() << 16) | (this.u8() << 24)) >>> 0
  }

  u64(): number {
    const lo = this.u32()
    return this.u32() * 4294967296 + lo
  }

  skip(n: number): void {
    if (this.pos + n > this.end) throw new WasmFormatError(`unexpected end of data at offset ${this.pos}`)
    this.pos += n
  }

  name(): string {
    const n = this.uleb()
    const at = this.pos
    this.skip(n)
    return new TextDecoder().decode(this.bytes.subarray(at, at + n))
  }

  /** A NUL-terminated string (DWARF). */
  cstring(): string {
    const at = this.pos
    while (this.u8() !== 0) { /* scan */ }
    return new TextDecoder().decode(this.bytes.subarray(at, this.pos - 1))
  }
}

const MAGIC = [0x00, 0x61, 0x73, 0x6d]

export function isWasm(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && MAGIC.every((b, i) => bytes[i] === b)
}

/** The module's sections in order. */
export function readSections(bytes: Uint8Array): Section[] {
  if (!isWasm(bytes)) throw new WasmFormatError('not a WebAssembly module (no \\0asm magic)')
  const r = new ByteReader(bytes, 8)
  const out: Section[] = []
  while (!r.done) {
    const offset = r.pos
    const id = r.u8()
    const size = r.uleb()
    const start = r.pos
    const end = start + size
    if (end > bytes.length) throw new WasmFormatError(`section ${id} at ${offset} runs past the end of the module`)
    let name = ''
    let contents = start
    if (id === SECTION.custom) {
      const nr = new ByteReader(bytes, start, end)
      name = nr.name()
      contents = nr.pos
    }
    out.push({ id, name, offset, start: contents, end })
    r.pos = end
  }
  return out
}

/** The contents of the custom section `name`, or undefined. */
export function customSection(bytes: Uint8Array, name: string, sections = readSections(bytes)): Uint8Array | undefined {
  const s = sections.find((x) => x.id === SECTION.custom && x.name === name)
  return s === undefined ? undefined : bytes.subarray(s.start, s.end)
}

function uleb(n: number): number[] {
  const out: number[] = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return out
}

function nameBytes(name: string): number[] {
  const utf8 = new TextEncoder().encode(name)
  return [...uleb(utf8.length), ...utf8]
}

/** A custom section's bytes (id, size, name, payload). */
export function encodeCustomSection(name: string, payload: Uint8Array): Uint8Array {
  const head = nameBytes(name)
  const size = head.length + payload.length
  const prefix = [SECTION.custom, ...uleb(size), ...head]
  const out = new Uint8Array(prefix.length + payload.length)
  out.set(prefix, 0)
  out.set(payload, prefix.length)
  return out
}

/**
 * The module with custom section `name` replaced (or appended) and the module name in the
 * `name` section set to `moduleName` when given. Custom sections come after the code section,
 * so code offsets (and the DWARF addresses relative to the code section) do not move.
 */
export function patchCustomSections(bytes: Uint8Array, replace: ReadonlyMap<string, Uint8Array | null>): Uint8Array {
  const sections = readSections(bytes)
  const parts: Uint8Array[] = [bytes.subarray(0, 8)]
  const done = new Set<string>()
  for (const s of sections) {
    if (s.id === SECTION.custom && replace.has(s.name)) {
      if (!done.has(s.name)) {
        const payload = replace.get(s.name)
        if (payload !== null && payload !== undefined) parts.push(encodeCustomSection(s.name, payload))
        done.add(s.name)
      }
      continue
    }
    parts.push(bytes.subarray(s.offset, s.end))
  }
  for (const [name, payload] of replace) if (!done.has(name) && payload !== null) parts.push(encodeCustomSection(name, payload))
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/**
 * The `name` section with its module-name subsection (id 0, spec 7.4.1) set to `moduleName`;
 * V8 prints it in stack frames (`wasm://wasm/<module name>-<hash>`), which is how a frame is
 * traced back to the driver it belongs to.
 */
export function withModuleName(bytes: Uint8Array, moduleName: string): Uint8Array {
  const old = customSection(bytes, 'name')
  const subsections: number[] = []
  const module = nameBytes(moduleName)
  subsections.push(0, ...uleb(module.length), ...module)
  if (old !== undefined) {
    const r = new ByteReader(old)
    while (!r.done) {
      const id = r.u8()
      const size = r.uleb()
      const at = r.pos
      r.skip(size)
      if (id !== 0) subsections.push(id, ...uleb(size), ...old.subarray(at, at + size))
    }
  }
  return patchCustomSections(bytes, new Map([['name', Uint8Array.from(subsections)]]))
}

/** One decoded instruction of a function body (spec 5.4). */
export interface Instruction {
  /** Offset of its opcode in the module. */
  readonly at: number
  /** Offset just past it. */
  readonly end: number
  readonly op: number
  /** What dmalab must know about it. */
  readonly kind: 'plain' | 'load-store' | 'call' | 'ref.func' | 'memory' | 'unsupported'
  /** Mnemonic for `load-store`, `memory` and `unsupported` instructions. */
  readonly name: string
  /** `call` / `ref.func`: the function index and where its LEB starts. */
  readonly index: number
  readonly indexAt: number
  /** `load-store`: the constant offset of its memarg. */
  readonly offset: number
}

export const LOADS_STORES = [
  'i32.load', 'i64.load', 'f32.load', 'f64.load', 'i32.load8_s', 'i32.load8_u', 'i32.load16_s', 'i32.load16_u',
  'i64.load8_s', 'i64.load8_u', 'i64.load16_s', 'i64.load16_u', 'i64.load32_s', 'i64.load32_u',
  'i32.store', 'i64.store', 'f32.store', 'f64.store', 'i32.store8', 'i32.store16', 'i64.store8', 'i64.store16', 'i64.store32',
] as const

/** Block types (spec 5.4.1): the empty type 0x40, a value type, or a type index as s33. */
function skipBlockType(r: ByteReader): void {
  const b = r.bytes[r.pos]!
  if (b === 0x40 || (b >= 0x6f && b <= 0x7f)) r.pos++
  else r.sleb()
}

/**
 * Decodes the instruction at `r.pos`. The instruction set read is MVP plus sign extension,
 * saturating truncation, multi-value, reference types and bulk memory; SIMD, atomics,
 * exception handling, tail calls and multiple memories are `unsupported` (and end the body's
 * walk: their immediates are not decoded).
 */
export function decodeInstruction(r: ByteReader): Instruction {
  const at = r.pos
  const op = r.u8()
  let kind: Instruction['kind'] = 'plain'
  let name = ''
  let index = -1
  let indexAt = -1
  let offset = 0
  if (op >= 0x28 && op <= 0x3e) {
    const align = r.uleb()
    if ((align & 0x40) !== 0) return { at, end: r.end, op, kind: 'unsupported', name: 'multi-memory access', index, indexAt, offset }
    offset = r.uleb()
    return { at, end: r.pos, op, kind: 'load-store', name: LOADS_STORES[op - 0x28]!, index, indexAt, offset }
  }
  switch (op) {
    case 0x02: case 0x03: case 0x04: skipBlockType(r); break
    case 0x0c: case 0x0d: case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25: case 0x26: r.uleb(); break
    case 0x10: case 0xd2:
      kind = op === 0x10 ? 'call' : 'ref.func'
      indexAt = r.pos
      index = r.uleb()
      break
    case 0x0e: { const n = r.uleb(); for (let i = 0; i <= n; i++) r.uleb(); break }
    case 0x11: r.uleb(); r.uleb(); break
    case 0x1c: { const n = r.uleb(); r.skip(n); break }
    case 0x3f: kind = 'memory'; name = 'memory.size'; r.uleb(); break
    case 0x40: kind = 'memory'; name = 'memory.grow'; r.uleb(); break
    case 0x41: case 0x42: r.sleb(); break
    case 0x43: r.skip(4); break
    case 0x44: r.skip(8); break
    case 0xd0: r.u8(); break
    case 0xfc: {
      const sub = r.uleb()
      if (sub <= 7) break
      if (sub === 8) { kind = 'memory'; name = 'memory.init'; r.uleb(); r.uleb(); break }
      if (sub === 9) { kind = 'memory'; name = 'data.drop'; r.uleb(); break }
      if (sub === 10) { kind = 'memory'; name = 'memory.copy'; r.uleb(); r.uleb(); break }
      if (sub === 11) { kind = 'memory'; name = 'memory.fill'; r.uleb(); break }
      if (sub === 12 || sub === 14) { r.uleb(); r.uleb(); break }
      if (sub === 13 || sub === 15 || sub === 16 || sub === 17) { r.uleb(); break }
      return { at, end: r.end, op, kind: 'unsupported', name: `0xfc ${sub}`, index, indexAt, offset }
    }
    default:
      // No immediates: control (0x00 0x01 0x05 0x0b 0x0f), drop/select, numeric 0x45-0xc4, ref.is_null.
      if (!(op <= 0x01 || op === 0x05 || op === 0x0b || op === 0x0f || op === 0x1a || op === 0x1b || (op >= 0x45 && op <= 0xc4) || op === 0xd1)) {
        return { at, end: r.end, op, kind: 'unsupported', name: `opcode 0x${op.toString(16)}`, index, indexAt, offset }
      }
  }
  return { at, end: r.pos, op, kind, name, index, indexAt, offset }
}

/** A function body: where its locals and its code are. */
export interface FunctionBody {
  /** Offset of the body's size LEB. */
  readonly at: number
  /** First byte after the size (the locals' declarations). */
  readonly start: number
  /** First instruction. */
  readonly code: number
  readonly end: number
}

/** The bodies of the code section, in order. */
export function functionBodies(bytes: Uint8Array, sections = readSections(bytes)): FunctionBody[] {
  const code = sections.find((s) => s.id === SECTION.code)
  if (code === undefined) return []
  const r = new ByteReader(bytes, code.start, code.end)
  const out: FunctionBody[] = []
  const count = r.uleb()
  for (let f = 0; f < count; f++) {
    const at = r.pos
    const size = r.uleb()
    const start = r.pos
    const end = start + size
    const fr = new ByteReader(bytes, start, end)
    const groups = fr.uleb()
    for (let g = 0; g < groups; g++) {
      fr.uleb()
      fr.u8()
    }
    out.push({ at, start, code: fr.pos, end })
    r.pos = end
  }
  return out
}

/** An instruction that reaches linear memory directly, or that dmalab cannot vouch for. */
export interface MemoryInstruction {
  /** Offset in the module, as V8 prints it in stack frames. */
  readonly offset: number
  readonly function: number
  readonly instruction: string
}

/**
 * Every instruction in the code section that touches linear memory (loads, stores,
 * memory.size/grow, bulk memory) or that dmalab cannot vouch for (SIMD, atomics, exception
 * handling, tail calls): after instrumentation there must be none.
 */
export function memoryInstructions(bytes: Uint8Array, sections = readSections(bytes)): MemoryInstruction[] {
  const imported = importedFunctionCount(bytes, sections)
  const found: MemoryInstruction[] = []
  functionBodies(bytes, sections).forEach((body, f) => {
    const r = new ByteReader(bytes, body.code, body.end)
    while (r.pos < body.end) {
      const ins = decodeInstruction(r)
      if (ins.kind === 'load-store' || ins.kind === 'memory' || ins.kind === 'unsupported') {
        found.push({ offset: ins.at, function: imported + f, instruction: ins.kind === 'unsupported' ? `unsupported ${ins.name}` : ins.name })
      }
      r.pos = ins.end
    }
  })
  return found
}

/** How many functions the module imports (function indices start after them). */
export function importedFunctionCount(bytes: Uint8Array, sections = readSections(bytes)): number {
  return functionImports(bytes, sections).length
}

function skipLimits(r: ByteReader): void {
  const flags = r.u8()
  r.uleb()
  if ((flags & 1) !== 0) r.uleb()
}

/** A function import and its signature ('i' i32, 'j' i64, 'f' f32, 'd' f64). */
export interface FunctionImport {
  readonly module: string
  readonly name: string
  readonly params: string
  readonly results: string
}

const VALUE_TYPE: Record<number, string> = { 0x7f: 'i', 0x7e: 'j', 0x7d: 'f', 0x7c: 'd' }

/** The module's function types, as signature strings. */
function functionTypes(bytes: Uint8Array, sections: readonly Section[]): Array<{ params: string; results: string }> {
  const sec = sections.find((s) => s.id === SECTION.type)
  if (sec === undefined) return []
  const r = new ByteReader(bytes, sec.start, sec.end)
  const out: Array<{ params: string; results: string }> = []
  const n = r.uleb()
  for (let i = 0; i < n; i++) {
    if (r.u8() !== 0x60) throw new WasmFormatError(`type ${i} is not a function type`)
    const vec = (): string => {
      let s = ''
      const count = r.uleb()
      for (let k = 0; k < count; k++) s += VALUE_TYPE[r.u8()] ?? '?'
      return s
    }
    const params = vec()
    out.push({ params, results: vec() })
  }
  return out
}

/** The module's function imports with their signatures. */
export function functionImports(bytes: Uint8Array, sections = readSections(bytes)): FunctionImport[] {
  const types = functionTypes(bytes, sections)
  const imp = sections.find((s) => s.id === SECTION.import)
  if (imp === undefined) return []
  const r = new ByteReader(bytes, imp.start, imp.end)
  const out: FunctionImport[] = []
  const n = r.uleb()
  for (let i = 0; i < n; i++) {
    const module = r.name()
    const name = r.name()
    const kind = r.u8()
    if (kind === 0) {
      const t = types[r.uleb()] ?? { params: '?', results: '?' }
      out.push({ module, name, ...t })
    } else if (kind === 1) {
      r.u8()
      skipLimits(r)
    } else if (kind === 2) {
      skipLimits(r)
    } else if (kind === 3) {
      r.u8()
      r.u8()
    } else {
      r.u8()
      r.uleb()
    }
  }
  return out
}
