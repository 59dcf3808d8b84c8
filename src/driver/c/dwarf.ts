// The C driver's debug information: from a code address (an offset in the wasm code section,
// as DWARF for WebAssembly counts them) to the source frames there, innermost first, with the
// functions inlined into one another unfolded as addr2line -i does.
//
// Read from the DWARF sections clang emits with -g (DWARF Debugging Information Format,
// version 4, sections 6.2 "Line Number Information" and 7.5 "Format of Debugging Information
// Entries"; version 5 units are read too): .debug_line for address → file:line:column,
// .debug_info/.debug_abbrev for the functions (DW_TAG_subprogram) and the inlined calls in them
// (DW_TAG_inlined_subroutine with DW_AT_call_file/DW_AT_call_line). WebAssembly's DWARF
// conventions (the "WebAssembly DWARF" note of the WebAssembly tool conventions): addresses are
// offsets from the start of the code section's contents, and 4 bytes wide.
import { posix as posixPath } from 'node:path'
import { ByteReader } from './wasm-binary.js'

export interface SourceFrame {
  readonly file: string
  readonly line: number
  readonly column: number
  /** The C function; the wasm function's name when the debug information does not say. */
  readonly function: string
}

interface Sequence {
  readonly start: number
  readonly end: number
  readonly address: number[]
  readonly file: number[]
  readonly line: number[]
  readonly column: number[]
  readonly files: readonly string[]
}

/** A function or an inlined call: where its code is and where it was called from. */
interface Scope {
  readonly ranges: ReadonlyArray<readonly [number, number]>
  readonly die: number
  readonly parent: number
  readonly depth: number
  readonly callFile: string | undefined
  readonly callLine: number
  readonly inlined: boolean
}

const TAG = { compileUnit: 0x11, subprogram: 0x2e, inlinedSubroutine: 0x1d } as const
const AT = {
  name: 0x03, lowPc: 0x11, highPc: 0x12, stmtList: 0x10, compDir: 0x1b, abstractOrigin: 0x31, specification: 0x47,
  ranges: 0x55, callFile: 0x58, callLine: 0x59, linkageName: 0x6e, strOffsetsBase: 0x72, addrBase: 0x73, rnglistsBase: 0x74,
} as const
/** Addresses the linker writes for code it discarded (wasm-ld's tombstones). */
const isTombstone = (a: number): boolean => a === 0 || a >= 0xffff_fffe

type Sections = ReadonlyMap<string, Uint8Array>

export class DebugInfo {
  private readonly sequences: Sequence[] = []
  private readonly scopes: Scope[] = []
  private readonly names = new Map<number, string>()
  private readonly origins = new Map<number, number>()
  private readonly cache = new Map<number, SourceFrame[]>()
  /** File tables of the line programs, by their .debug_line offset. */
  private readonly fileTables = new Map<number, string[]>()

  private constructor() {}

  /** Debug information from a module's custom sections (`.debug_*`); empty when there is none. */
  static read(sections: Sections): DebugInfo {
    const info = new DebugInfo()
    const line = sections.get('.debug_line')
    if (line !== undefined) {
      const r = new ByteReader(line)
      while (!r.done) info.readLineProgram(r, sections)
    }
    const debugInfo = sections.get('.debug_info')
    const abbrev = sections.get('.debug_abbrev')
    if (debugInfo !== undefined && abbrev !== undefined) {
      const r = new ByteReader(debugInfo)
      while (!r.done) info.readUnit(r, abbrev, sections)
    }
    info.sequences.sort((a, b) => a.start - b.start)
    return info
  }

  get hasLines(): boolean {
    return this.sequences.length > 0
  }

  /** The source frames at `address`, innermost first; [] when nothing is known there. */
  frames(address: number, fallbackFunction = '?'): SourceFrame[] {
    const key = address
    const hit = this.cache.get(key)
    if (hit !== undefined) return hit
    const row = this.lineAt(address)
    // The innermost scope holding the address, then its parents by nesting: binaryen's rewrite
    // of the DWARF can leave a function's high_pc short of an inlined call in its last
    // instruction, so a parent's own range is not asked to hold the address too.
    let innermost: Scope | undefined
    for (const s of this.scopes) {
      if ((innermost === undefined || s.depth > innermost.depth) && s.ranges.some(([lo, hi]) => address >= lo && address < hi)) innermost = s
    }
    const chain: Scope[] = []
    for (let s = innermost; s !== undefined; s = s.parent >= 0 ? this.scopes[s.parent] : undefined) chain.push(s)
    const out: SourceFrame[] = []
    if (row !== undefined || chain.length > 0) {
      let file = row?.file ?? chain[0]?.callFile ?? '?'
      let line = row?.line ?? 0
      let column = row?.column ?? 0
      if (chain.length === 0) out.push({ file, line, column, function: fallbackFunction })
      for (const scope of chain) {
        out.push({ file, line, column, function: this.nameOf(scope.die) ?? fallbackFunction })
        if (!scope.inlined) break
        file = scope.callFile ?? file
        line = scope.callLine
        column = 0
      }
    }
    this.cache.set(key, out)
    return out
  }

  private lineAt(address: number): { file: string; line: number; column: number } | undefined {
    for (const s of this.sequences) {
      if (address < s.start || address >= s.end) continue
      let lo = 0
      let hi = s.address.length - 1
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1
        if (s.address[mid]! <= address) lo = mid
        else hi = mid - 1
      }
      // Rows with line 0 are compiler-generated code attributed to no line: look back for one.
      let i = lo
      while (i > 0 && s.line[i] === 0) i--
      return { file: s.files[s.file[i]!] ?? '?', line: s.line[i]!, column: s.column[i]! }
    }
    return undefined
  }

  private nameOf(die: number): string | undefined {
    for (let d: number | undefined = die, hops = 0; d !== undefined && hops < 8; d = this.origins.get(d), hops++) {
      const n = this.names.get(d)
      if (n !== undefined) return n
    }
    return undefined
  }

  // ---- .debug_line ------------------------------------------------------------------------------

  private readLineProgram(r: ByteReader, sections: Sections): void {
    const unitOffset = r.pos
    const length = r.u32()
    if (length === 0xffff_ffff) throw new Error('64-bit DWARF is not read')
    const end = r.pos + length
    const version = r.u16()
    if (version >= 5) {
      r.u8() // address_size
      r.u8() // segment_selector_size
    }
    const headerLength = r.u32()
    const programStart = r.pos + headerLength
    const minInst = r.u8()
    if (version >= 4) r.u8() // maximum_operations_per_instruction
    const defaultIsStmt = r.u8()
    void defaultIsStmt
    const lineBase = (r.u8() << 24) >> 24
    const lineRange = r.u8()
    const opcodeBase = r.u8()
    const stdLengths: number[] = []
    for (let i = 1; i < opcodeBase; i++) stdLengths.push(r.u8())
    const files = version >= 5 ? readFileTable5(r, sections) : readFileTable4(r)
    this.fileTables.set(unitOffset, files)
    r.pos = programStart

    let address = 0
    let file = version >= 5 ? 0 : 1
    let line = 1
    let column = 0
    let seq: { start: number; address: number[]; file: number[]; line: number[]; column: number[] } | null = null
    let dead = false
    const row = (): void => {
      if (dead) return
      seq ??= { start: address, address: [], file: [], line: [], column: [] }
      seq.address.push(address)
      seq.file.push(file)
      seq.line.push(line)
      seq.column.push(column)
    }
    while (r.pos < end) {
      const op = r.u8()
      if (op >= opcodeBase) {
        const adjusted = op - opcodeBase
        address += Math.floor(adjusted / lineRange) * minInst
        line += lineBase + (adjusted % lineRange)
        row()
        continue
      }
      switch (op) {
        case 0: {
          const len = r.uleb()
          const subEnd = r.pos + len
          const sub = r.u8()
          if (sub === 1) {
            // end_sequence: the address is one past the sequence's last instruction.
            const s = seq as { start: number; address: number[]; file: number[]; line: number[]; column: number[] } | null
            if (!dead && s !== null && s.address.length > 0) this.sequences.push({ ...s, end: address, files })
            seq = null
            dead = false
            address = 0
            file = version >= 5 ? 0 : 1
            line = 1
            column = 0
          } else if (sub === 2) {
            address = r.u32()
            dead = isTombstone(address)
          }
          r.pos = subEnd
          break
        }
        case 1: row(); break
        case 2: address += r.uleb() * minInst; break
        case 3: line += r.sleb(); break
        case 4: file = r.uleb(); break
        case 5: column = r.uleb(); break
        case 8: address += Math.floor((255 - opcodeBase) / lineRange) * minInst; break
        case 9: address += r.u16(); break
        default:
          for (let i = 0; i < (stdLengths[op - 1] ?? 0); i++) r.uleb()
      }
    }
    r.pos = end
  }

  // ---- .debug_info ------------------------------------------------------------------------------

  private readUnit(r: ByteReader, abbrevSection: Uint8Array, sections: Sections): void {
    const unitOffset = r.pos
    const length = r.u32()
    if (length === 0xffff_ffff) throw new Error('64-bit DWARF is not read')
    const end = r.pos + length
    const version = r.u16()
    let abbrevOffset: number
    if (version >= 5) {
      const unitType = r.u8()
      r.u8() // address_size
      abbrevOffset = r.u32()
      if (unitType !== 1) {
        r.pos = end // only full compilation units hold code
        return
      }
    } else {
      abbrevOffset = r.u32()
      r.u8() // address_size
    }
    const abbrevs = readAbbrevs(abbrevSection, abbrevOffset)
    const unit: UnitContext = { base: 0, version, unitOffset, strOffsetsBase: 8, addrBase: 8, rnglistsBase: 12, files: [], sections }
    const stack: Array<{ die: number; scope: number }> = []
    while (r.pos < end) {
      const dieOffset = r.pos
      const code = r.uleb()
      if (code === 0) {
        stack.pop()
        continue
      }
      const abbrev = abbrevs.get(code)
      if (abbrev === undefined) throw new Error(`DWARF: unknown abbreviation ${code} at ${dieOffset}`)
      const attrs = new Map<number, AttrValue>()
      for (const [at, form, implicit] of abbrev.attrs) attrs.set(at, readForm(r, form, implicit, unit))
      const parentScope = stack.length > 0 ? stack[stack.length - 1]!.scope : -1
      let scope = parentScope
      if (abbrev.tag === TAG.compileUnit) {
        unit.base = num(attrs.get(AT.lowPc)) ?? 0
        unit.strOffsetsBase = num(attrs.get(AT.strOffsetsBase)) ?? unit.strOffsetsBase
        unit.addrBase = num(attrs.get(AT.addrBase)) ?? unit.addrBase
        unit.rnglistsBase = num(attrs.get(AT.rnglistsBase)) ?? unit.rnglistsBase
        const stmt = num(attrs.get(AT.stmtList))
        unit.files = (stmt === undefined ? undefined : this.fileTables.get(stmt)) ?? []
      } else if (abbrev.tag === TAG.subprogram || abbrev.tag === TAG.inlinedSubroutine) {
        const name = str(attrs.get(AT.name)) ?? str(attrs.get(AT.linkageName))
        if (name !== undefined) this.names.set(dieOffset, name)
        const origin = ref(attrs.get(AT.abstractOrigin) ?? attrs.get(AT.specification))
        if (origin !== undefined) this.origins.set(dieOffset, origin)
        const ranges = scopeRanges(attrs, unit)
        if (ranges.length > 0) {
          const inlined = abbrev.tag === TAG.inlinedSubroutine
          const callFile = num(attrs.get(AT.callFile))
          this.scopes.push({
            ranges,
            die: dieOffset,
            parent: parentScope,
            depth: parentScope >= 0 ? this.scopes[parentScope]!.depth + 1 : 0,
            callFile: callFile === undefined ? undefined : unit.files[callFile],
            callLine: num(attrs.get(AT.callLine)) ?? 0,
            inlined,
          })
          scope = this.scopes.length - 1
        }
      }
      if (abbrev.children) stack.push({ die: dieOffset, scope })
    }
    r.pos = end
  }
}

// ---- helpers -----------------------------------------------------------------------------------

interface UnitContext {
  base: number
  version: number
  unitOffset: number
  strOffsetsBase: number
  addrBase: number
  rnglistsBase: number
  files: string[]
  sections: Sections
}

/** An attribute value: a number, a string, a reference (`{ ref }`, .debug_info offset) or bytes. */
type AttrValue = number | string | { readonly ref: number } | { readonly addrx: number } | { readonly strx: number } | { readonly rnglistx: number } | Uint8Array | undefined

interface Abbrev {
  readonly tag: number
  readonly children: boolean
  readonly attrs: ReadonlyArray<readonly [number, number, number]>
}

function readAbbrevs(section: Uint8Array, offset: number): Map<number, Abbrev> {
  const r = new ByteReader(section, offset)
  const out = new Map<number, Abbrev>()
  for (;;) {
    const code = r.uleb()
    if (code === 0) return out
    const tag = r.uleb()
    const children = r.u8() === 1
    const attrs: Array<[number, number, number]> = []
    for (;;) {
      const at = r.uleb()
      const form = r.uleb()
      const implicit = form === 0x21 ? r.sleb() : 0
      if (at === 0 && form === 0) break
      attrs.push([at, form, implicit])
    }
    out.set(code, { tag, children, attrs })
  }
}

function readForm(r: ByteReader, form: number, implicit: number, unit: UnitContext): AttrValue {
  const s = unit.sections
  switch (form) {
    case 0x01: return r.u32() // addr (4 bytes on wasm32)
    case 0x03: return block(r, r.u16())
    case 0x04: return block(r, r.u32())
    case 0x05: return r.u16()
    case 0x06: return r.u32()
    case 0x07: return r.u64()
    case 0x08: return r.cstring()
    case 0x09: case 0x18: return block(r, r.uleb())
    case 0x0a: return block(r, r.u8())
    case 0x0b: return r.u8()
    case 0x0c: return r.u8()
    case 0x0d: return r.sleb()
    case 0x0e: return stringAt(s.get('.debug_str'), r.u32())
    case 0x0f: return r.uleb()
    case 0x10: return { ref: r.u32() }
    case 0x11: return { ref: unit.unitOffset + r.u8() }
    case 0x12: return { ref: unit.unitOffset + r.u16() }
    case 0x13: return { ref: unit.unitOffset + r.u32() }
    case 0x14: return { ref: unit.unitOffset + r.u64() }
    case 0x15: return { ref: unit.unitOffset + r.uleb() }
    case 0x16: return readForm(r, r.uleb(), implicit, unit)
    case 0x17: return r.u32() // sec_offset
    case 0x19: return 1 // flag_present
    case 0x1a: return strx(unit, r.uleb())
    case 0x1b: return addrx(unit, r.uleb())
    case 0x1c: return r.u32() // ref_sup4
    case 0x1d: return r.u32() // strp_sup
    case 0x1e: r.skip(16); return undefined
    case 0x1f: return stringAt(s.get('.debug_line_str'), r.u32())
    case 0x20: r.skip(8); return undefined // ref_sig8
    case 0x21: return implicit
    case 0x22: return r.uleb() // loclistx
    case 0x23: return { rnglistx: r.uleb() }
    case 0x24: r.skip(8); return undefined // ref_sup8
    case 0x25: return strx(unit, r.u8())
    case 0x26: return strx(unit, r.u16())
    case 0x27: return strx(unit, r.u8() | (r.u8() << 8) | (r.u8() << 16))
    case 0x28: return strx(unit, r.u32())
    case 0x29: return addrx(unit, r.u8())
    case 0x2a: return addrx(unit, r.u16())
    case 0x2b: return addrx(unit, r.u8() | (r.u8() << 8) | (r.u8() << 16))
    case 0x2c: return addrx(unit, r.u32())
    default: throw new Error(`DWARF: unknown form 0x${form.toString(16)}`)
  }
}

function block(r: ByteReader, length: number): Uint8Array {
  const at = r.pos
  r.skip(length)
  return r.bytes.subarray(at, at + length)
}

function stringAt(section: Uint8Array | undefined, offset: number): string | undefined {
  if (section === undefined || offset >= section.length) return undefined
  return new ByteReader(section, offset).cstring()
}

function strx(unit: UnitContext, index: number): string | undefined {
  const offsets = unit.sections.get('.debug_str_offsets')
  if (offsets === undefined) return undefined
  const at = unit.strOffsetsBase + index * 4
  if (at + 4 > offsets.length) return undefined
  return stringAt(unit.sections.get('.debug_str'), new ByteReader(offsets, at).u32())
}

function addrx(unit: UnitContext, index: number): number | undefined {
  const addr = unit.sections.get('.debug_addr')
  const at = unit.addrBase + index * 4
  if (addr === undefined || at + 4 > addr.length) return undefined
  return new ByteReader(addr, at).u32()
}

const num = (v: AttrValue): number | undefined => (typeof v === 'number' ? v : undefined)
const str = (v: AttrValue): string | undefined => (typeof v === 'string' ? v : undefined)
const ref = (v: AttrValue): number | undefined => (typeof v === 'object' && v !== null && 'ref' in v ? v.ref : undefined)

/** The address ranges of a subprogram or inlined call (low/high pc, or DW_AT_ranges). */
function scopeRanges(attrs: Map<number, AttrValue>, unit: UnitContext): Array<[number, number]> {
  const low = num(attrs.get(AT.lowPc))
  const highAttr = attrs.get(AT.highPc)
  if (low !== undefined && !isTombstone(low) && typeof highAttr === 'number') {
    // DW_AT_high_pc of a constant class is an offset from low_pc (DWARF 4, 2.17.2); an address
    // class value is the address itself. A data4 value below low_pc can only be an offset.
    const high = highAttr > low ? highAttr : low + highAttr
    return [[low, high]]
  }
  const rangesAttr = attrs.get(AT.ranges)
  if (rangesAttr === undefined) return []
  if (unit.version >= 5) {
    const lists = unit.sections.get('.debug_rnglists')
    if (lists === undefined) return []
    let offset: number
    if (typeof rangesAttr === 'object' && rangesAttr !== null && 'rnglistx' in rangesAttr) {
      const at = unit.rnglistsBase + rangesAttr.rnglistx * 4
      if (at + 4 > lists.length) return []
      offset = unit.rnglistsBase + new ByteReader(lists, at).u32()
    } else if (typeof rangesAttr === 'number') {
      offset = rangesAttr
    } else {
      return []
    }
    return readRngList(lists, offset, unit)
  }
  const ranges = unit.sections.get('.debug_ranges')
  if (ranges === undefined || typeof rangesAttr !== 'number') return []
  const r = new ByteReader(ranges, rangesAttr)
  const out: Array<[number, number]> = []
  let base = unit.base
  while (r.pos + 8 <= ranges.length) {
    const a = r.u32()
    const b = r.u32()
    if (a === 0 && b === 0) break
    if (a === 0xffff_ffff) {
      base = b
      continue
    }
    if (!isTombstone(a + base) && b > a) out.push([a + base, b + base])
  }
  return out
}

/** DWARF 5 range lists (DW_RLE_*, DWARF 5 section 2.17.3). */
function readRngList(section: Uint8Array, offset: number, unit: UnitContext): Array<[number, number]> {
  const r = new ByteReader(section, offset)
  const out: Array<[number, number]> = []
  let base = unit.base
  const push = (lo: number | undefined, hi: number | undefined): void => {
    if (lo !== undefined && hi !== undefined && !isTombstone(lo) && hi > lo) out.push([lo, hi])
  }
  while (!r.done) {
    const kind = r.u8()
    switch (kind) {
      case 0: return out
      case 1: base = addrx(unit, r.uleb()) ?? 0; break
      case 2: push(addrx(unit, r.uleb()), addrx(unit, r.uleb())); break
      case 3: { const lo = addrx(unit, r.uleb()); push(lo, lo === undefined ? undefined : lo + r.uleb()); break }
      case 4: { const lo = r.uleb(); const hi = r.uleb(); push(base + lo, base + hi); break }
      case 5: base = r.u32(); break
      case 6: push(r.u32(), r.u32()); break
      case 7: { const lo = r.u32(); push(lo, lo + r.uleb()); break }
      default: return out
    }
  }
  return out
}

function joinPath(dir: string | undefined, name: string): string {
  if (name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name) || dir === undefined || dir === '') return tidy(name)
  return tidy(dir.endsWith('/') ? dir + name : `${dir}/${name}`)
}

/** A file reached by `#include "../x.h"` is named as the compiler spelled it; users know it by its real path. */
function tidy(file: string): string {
  return file.startsWith('/') && /(^|\/)\.\.?(\/|$)/.test(file) ? posixPath.normalize(file) : file
}

/** DWARF 4 line header tables: include_directories then file_names (index 0 unused). */
function readFileTable4(r: ByteReader): string[] {
  const dirs: string[] = ['']
  for (;;) {
    const d = r.cstring()
    if (d === '') break
    dirs.push(d)
  }
  const files: string[] = ['']
  for (;;) {
    const name = r.cstring()
    if (name === '') break
    const dir = r.uleb()
    r.uleb()
    r.uleb()
    files.push(joinPath(dirs[dir], name))
  }
  return files
}

/** DWARF 5 line header tables, described by entry formats (DWARF 5, 6.2.4.1). */
function readFileTable5(r: ByteReader, sections: Sections): string[] {
  const readEntries = (): Array<{ path: string; dir: number }> => {
    const formatCount = r.u8()
    const formats: Array<[number, number]> = []
    for (let i = 0; i < formatCount; i++) formats.push([r.uleb(), r.uleb()])
    const count = r.uleb()
    const out: Array<{ path: string; dir: number }> = []
    for (let i = 0; i < count; i++) {
      let path = ''
      let dir = 0
      for (const [type, form] of formats) {
        const v = readLineForm(r, form, sections)
        if (type === 1 && typeof v === 'string') path = v
        if (type === 2 && typeof v === 'number') dir = v
      }
      out.push({ path, dir })
    }
    return out
  }
  const dirs = readEntries().map((d) => d.path)
  return readEntries().map((f) => joinPath(dirs[f.dir], f.path))
}

function readLineForm(r: ByteReader, form: number, sections: Sections): number | string | undefined {
  switch (form) {
    case 0x08: return r.cstring()
    case 0x0e: return stringAt(sections.get('.debug_str'), r.u32())
    case 0x1f: return stringAt(sections.get('.debug_line_str'), r.u32())
    case 0x0f: return r.uleb()
    case 0x0b: return r.u8()
    case 0x05: return r.u16()
    case 0x06: return r.u32()
    case 0x07: return r.u64()
    case 0x1e: r.skip(16); return undefined
    case 0x09: { const n = r.uleb(); r.skip(n); return undefined }
    default: throw new Error(`DWARF: unknown line header form 0x${form.toString(16)}`)
  }
}
