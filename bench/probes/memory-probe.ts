// Measures, in a fresh process so nothing else shares the heap: microseconds to create an
// 8 GiB machine (median of many), and host RSS growth after creating a 1 TiB machine and
// writing then reading back 10,000 scattered pages. Prints one JSON line.
import { createMachine } from '../../src/index.js'

const TIB = 1024 ** 4
const PAGES = 10_000

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[s.length >> 1]!
}

// Warm up the code paths so the timing measures creation, not compilation.
for (let i = 0; i < 50; i++) createMachine()
const times: number[] = []
for (let i = 0; i < 200; i++) {
  const t0 = process.hrtime.bigint()
  createMachine()
  times.push(Number(process.hrtime.bigint() - t0) / 1000)
}

globalThis.gc?.()
const before = process.memoryUsage().rss
const m = createMachine({ memory: { size: TIB } })
// Scattered pages over the whole of RAM, low and high, with a value per page.
const stride = Math.floor(m.ram.size / 4096 / PAGES) * 4096 + 4096 * 7
const addressOf = (i: number): number => {
  const offset = (i * stride) % (m.ram.size - 4096)
  return offset < 3 * 1024 ** 3 ? offset : offset + 1024 ** 3
}
for (let i = 0; i < PAGES; i++) m.cpu.write64(addressOf(i) + 8, i * 2654435761)
let readBack = 0
for (let i = 0; i < PAGES; i++) if (m.cpu.read64(addressOf(i) + 8) === i * 2654435761) readBack++
globalThis.gc?.()
const growth = (process.memoryUsage().rss - before) / (1024 * 1024)

console.log(JSON.stringify({ createUs: median(times), rssMiB: growth, pages: PAGES, readBack, materialized: m.ram.materializedFrames }))
