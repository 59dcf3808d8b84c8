// What building a C miniport costs, in a fresh process (run it twice to see a cold and a warm
// disk cache apart from the toolchain): loading the toolchain (clang and wasm-ld are 75 MB of
// WebAssembly), the first compile and link of examples/c/minimal, later compiles in the same
// process, and instrumentation. The disk cache is off, so every compile is real. Prints one
// JSON line. `npx tsx bench/probes/c-compile-time.ts`
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { includeDirectory } from '../../src/driver/c/build.js'
import { instrument } from '../../src/driver/c/instrument.js'
import { compileDriver } from '../../src/driver/c/toolchain.js'
import { DRIVER_IMAGE_BASE, DRIVER_IMAGE_END } from '../../src/kernel/arch.js'

const source = fileURLToPath(new URL('../../examples/c/minimal/minimal.c', import.meta.url))
const include = includeDirectory()
const request = {
  sources: [{ path: source, bytes: new Uint8Array(readFileSync(source)) }],
  headers: [],
  systemHeaders: readdirSync(include).map((f) => ({ path: f, bytes: new Uint8Array(readFileSync(path.join(include, f))) })),
  includeDirs: [],
  defines: [],
  optimize: '1',
  imageBase: DRIVER_IMAGE_BASE,
}

const ms = (t: number): number => Math.round(performance.now() - t)
let t = performance.now()
const first = await compileDriver(request)
const firstMs = ms(t)
const warm: number[] = []
for (let i = 0; i < 3; i++) {
  t = performance.now()
  await compileDriver(request)
  warm.push(ms(t))
}
t = performance.now()
const wasm = instrument(first.wasm, DRIVER_IMAGE_BASE, DRIVER_IMAGE_END)
const instrumentMs = ms(t)
console.log(JSON.stringify({ firstCompileWithToolchainLoadMs: firstMs, warmCompileMs: warm, instrumentMs, linkedBytes: first.wasm.length, instrumentedBytes: wasm.length }))
