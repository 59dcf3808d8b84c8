// A quick local measurement of the NIC's loopback path while developing the hardware (the
// real figures are `npm run bench`, issue 8). It runs the bench's own figures (bench/device.ts
// and the copy limit of bench/copy-limit.ts, cold 64 MiB working set) several times,
// interleaved, and prints the medians of the ratios measured in the same round: on a shared
// machine one run of each figure is not worth much, a ratio from the same round is.
//
//   npx tsx test/support/device-loopback-probe.ts [seconds-per-figure] [rounds] [--cpu]
//
// --cpu times by the process's CPU time instead of the wall clock: steadier while other
// processes take the cores, though not what the bench prints.
import { copyLimit } from '../../bench/copy-limit.js'
import { deviceLoopback } from '../../bench/device.js'

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const SECONDS = Number(args[0] ?? 0.5)
const ROUNDS = Number(args[1] ?? 5)
if (process.argv.includes('--cpu')) {
  performance.now = (): number => {
    const u = process.cpuUsage()
    return (u.user + u.system) / 1000
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
for (const size of [64, 1500]) {
  const limit: number[] = []
  const off: number[] = []
  const on: number[] = []
  const onOff: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const copy = copyLimit(size, SECONDS)
    const a = deviceLoopback(size, false, SECONDS).framesPerSecond
    const b = deviceLoopback(size, true, SECONDS).framesPerSecond
    limit.push(copy)
    off.push(a / copy)
    on.push(b / copy)
    onOff.push(b / a)
  }
  const m = median(limit)
  console.log(`${size} bytes: copy limit ${(m / 1e6).toFixed(2)} M frames/s (median of ${ROUNDS})`)
  console.log(`  IOMMU off  ${median(off).toFixed(2)} x limit`)
  console.log(`  IOMMU on   ${median(on).toFixed(2)} x limit, ${median(onOff).toFixed(2)} x off`)
}
