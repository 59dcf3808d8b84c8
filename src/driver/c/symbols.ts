// From a V8 stack frame of a C driver to its C source: the module's DWARF (dwarf.ts), keyed by
// the module name dmalab gives every instrumented module (dmalab-c-<content hash>, which V8
// prints in the frame), registered with the kernel's site resolution (kernel/sites.ts) so that
// findings, call sites and fault-injection sites name C files, lines and functions.
import { registerWasmModule, type WasmSymbolizer } from '../../kernel/sites.js'
import { DebugInfo, type SourceFrame } from './dwarf.js'
import { addressMapOf } from './instrument.js'
import { ByteReader, SECTION, customSection, readSections } from './wasm-binary.js'

export interface ModuleSymbols {
  /** The module's name (its `name` section), as V8 prints it in frames. */
  readonly moduleName: string
  /** Source frames at a module offset (what V8 prints), innermost first. */
  readonly symbolize: WasmSymbolizer
  readonly debug: DebugInfo
}

const registered = new Map<string, ModuleSymbols>()

/** The module name in the `name` section's module subsection, or undefined. */
export function moduleNameOf(bytes: Uint8Array): string | undefined {
  const names = customSection(bytes, 'name')
  if (names === undefined) return undefined
  const r = new ByteReader(names)
  while (!r.done) {
    const id = r.u8()
    const size = r.uleb()
    const end = r.pos + size
    if (id === 0) return r.name()
    r.pos = end
  }
  return undefined
}

/** Reads a module's debug information and registers its frames with site resolution (once per module). */
export function moduleSymbols(bytes: Uint8Array, driverName: string): ModuleSymbols {
  const sections = readSections(bytes)
  const moduleName = moduleNameOf(bytes)
  if (moduleName === undefined) throw new Error('the driver module has no name (it was not built by dmalab build)')
  const known = registered.get(moduleName)
  if (known !== undefined) return known
  const debugSections = new Map<string, Uint8Array>()
  for (const s of sections) if (s.id === SECTION.custom && s.name.startsWith('.debug_')) debugSections.set(s.name, bytes.subarray(s.start, s.end))
  const debug = DebugInfo.read(debugSections)
  // DWARF addresses for WebAssembly are offsets from the start of the code section's contents,
  // of the code clang wrote: the address map takes the instrumented code's offsets back there.
  const code = sections.find((s) => s.id === SECTION.code)
  const codeStart = code?.start ?? 0
  const original = addressMapOf(bytes)
  const symbolize: WasmSymbolizer = (offset, fn) => {
    const frames: SourceFrame[] = debug.frames(original(offset - codeStart), fn)
    return frames.length > 0 ? frames : [{ file: `${driverName}.wasm`, line: 0, column: 0, function: fn }]
  }
  const symbols = { moduleName, symbolize, debug }
  registered.set(moduleName, symbols)
  registerWasmModule(moduleName, symbolize)
  return symbols
}
