// The C toolchain end to end without a machine: clang and wasm-ld (in-process WebAssembly),
// binaryen's instrumentation, the driver image, and the DWARF line table read back. One build
// serves the file (the cache is in-process; the disk cache is off so the test compiles for real).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildDriver, type BuiltDriver } from '../../../src/driver/c/build.js'
import { readImage } from '../../../src/driver/c/instrument.js'
import { memoryHooks } from '../../../src/driver/c/memory-hooks.js'
import { moduleSymbols } from '../../../src/driver/c/symbols.js'
import { memoryInstructions } from '../../../src/driver/c/wasm-binary.js'
import { DRIVER_IMAGE_BASE } from '../../../src/kernel/arch.js'
import { driverStack } from '../../../src/kernel/sites.js'

const SOURCE = `#include <wdm.h>
ULONG Counter = 5;
UCHAR Table[64];

static ULONG divide(ULONG a, ULONG b)
{
    return a / b;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    PULONG block = ExAllocatePoolWithTag(NonPagedPoolNx, 64, 'tseT');
    block[3] = Counter;
    Table[2] = 9;
    return (NTSTATUS)divide(block[3] + Table[2], Counter - 5);
}
`
// Lines in SOURCE (1-based) that the test expects frames at.
const DIVIDE_LINE = 7
const CALL_LINE = 15

/** Flat emulated memory for the hooks: what the driver wrote, by address. */
function flatMemory(): { bytes: Map<number, number>; hooks: ReturnType<typeof memoryHooks> } {
  const bytes = new Map<number, number>()
  const r8 = (a: number): number => bytes.get(a) ?? 0
  const w8 = (a: number, v: number): void => void bytes.set(a, v & 0xff)
  return {
    bytes,
    hooks: memoryHooks({
      read8: r8,
      read16: (a) => r8(a) | (r8(a + 1) << 8),
      read32: (a) => (r8(a) | (r8(a + 1) << 8) | (r8(a + 2) << 16) | (r8(a + 3) << 24)) >>> 0,
      write8: w8,
      write16: (a, v) => { w8(a, v); w8(a + 1, v >> 8) },
      write32: (a, v) => { for (let i = 0; i < 4; i++) w8(a + i, v >>> (8 * i)) },
    }),
  }
}

describe('C drivers through the toolchain', () => {
  let built: BuiltDriver
  let file: string

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dmalab-c-'))
    file = path.join(dir, 'trap.c')
    writeFileSync(file, SOURCE)
    built = await buildDriver([file], { cacheDir: null })
  })

  it('leave no instruction that reaches linear memory: every load and store calls a dmalab hook', () => {
    expect(memoryInstructions(built.wasm)).toEqual([])
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(built.wasm))
    expect(imports.filter((i) => i.kind === 'memory')).toEqual([])
    expect(imports.filter((i) => i.module === 'env').map((i) => i.name)).toEqual(['ExAllocatePoolWithTag'])
    // Counter is read (a 32-bit load), block[3] and Table[2] written (32- and 8-bit stores).
    expect(imports.filter((i) => i.module === 'dmalab').map((i) => i.name).sort()).toEqual(['load_i32_4', 'store_i32_1', 'store_i32_4'])
  })

  it('link the driver\'s data at the x86 driver-image base and carry it beside the code', () => {
    const image = readImage(built.wasm)!
    expect(image.base).toBe(DRIVER_IMAGE_BASE)
    // Counter (4 bytes of data) and Table (64 bytes of bss).
    expect(image.end - image.base).toBeGreaterThanOrEqual(68)
    const counter = image.segments.find((s) => s.bytes.length >= 4 && s.bytes[0] === 5)
    expect(counter?.address).toBeGreaterThanOrEqual(DRIVER_IMAGE_BASE)
  })

  it('run with its globals and its pool block in emulated memory, and name the C lines of a trap', () => {
    const { bytes, hooks } = flatMemory()
    const image = readImage(built.wasm)!
    for (const s of image.segments) s.bytes.forEach((b, i) => bytes.set(s.address + i, b))
    moduleSymbols(built.wasm, 'trap')
    const instance = new WebAssembly.Instance(new WebAssembly.Module(built.wasm), {
      env: { ExAllocatePoolWithTag: () => 0x8100_0000 },
      dmalab: hooks,
    })
    let error: unknown
    try {
      ;(instance.exports.DriverEntry as (a: number, b: number) => number)(0, 0)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(WebAssembly.RuntimeError)
    // block[3] = Counter went to the "pool" block through the store hook.
    expect(bytes.get(0x8100_0000 + 12)).toBe(5)
    const frames = driverStack((error as Error).stack)
    expect(frames.slice(0, 2)).toEqual([
      { file: file, line: DIVIDE_LINE, function: 'divide' },
      { file: file, line: CALL_LINE, function: 'DriverEntry' },
    ])
  })
})

describe('quoted includes', () => {
  it('a name through ".." that the compiler would open as another file beside the includer is refused, not silently read', async () => {
    // @yowasp/clang's file system takes ".." as "." (examples/c/buggy include the e1000's files
    // through "../"; c-buggy.test.ts runs them). a/b/x.h would be read for a/b/../x.h.
    const dir = mkdtempSync(path.join(tmpdir(), 'dmalab-c-dotdot-'))
    const b = path.join(dir, 'a', 'b')
    mkdirSync(b, { recursive: true })
    writeFileSync(path.join(dir, 'a', 'x.h'), '#define X 1\n')
    writeFileSync(path.join(b, 'x.h'), '#define X 2\n')
    writeFileSync(path.join(b, 'm.c'), '#include "../x.h"\nint DriverEntry(void) { return X; }\n')
    await expect(buildDriver([path.join(b, 'm.c')], { cacheDir: null })).rejects.toThrow(/#include ".*\/a\/b\/\.\.\/x\.h" would read .*\/a\/b\/x\.h instead of .*\/a\/x\.h/)
  })
})
