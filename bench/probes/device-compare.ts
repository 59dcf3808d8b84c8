// The bench's device rows (bench/device.ts) of this checkout against another build of dmalab,
// in the same process and interleaved, so both see the same machine load: the same-run ratio a
// device change must keep above 0.9 (TEAM: a bench figure may not fall more than 10%). Each
// figure is frames per CPU-second of this process (process.cpuUsage), which other processes on
// a shared machine disturb far less than wall-clock frames per second; the median of the rounds
// is compared.
//
//   git archive <commit> | tar -x -C /tmp/base && ln -s "$PWD/node_modules" /tmp/base/
//   (cd /tmp/base && npx tsc -p tsconfig.build.json)
//   npm run -s build && node dist/bench/probes/device-compare.js /tmp/base [rounds] [seconds]
//
// Prints one line per row: the other build's figure, ours, the ratio and every round.
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { deviceLoopback, type DeviceResult } from '../device.js'

type Loopback = (size: number, iommu: boolean, seconds: number) => DeviceResult

function usage(message: string): never {
  console.error(`device-compare: ${message}\nusage: node dist/bench/probes/device-compare.js <other checkout, built> [rounds 1..99] [seconds per figure]`)
  process.exit(2)
}

const [dir, roundsArg = '5', secondsArg = '2'] = process.argv.slice(2)
if (dir === undefined) usage('no checkout to compare with')
const rounds = Number(roundsArg)
const seconds = Number(secondsArg)
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 99) usage(`rounds must be a whole number 1..99, got ${roundsArg}`)
if (!(seconds > 0 && seconds <= 60)) usage(`seconds must be a number in (0, 60], got ${secondsArg}`)

let other: Loopback
try {
  other = ((await import(pathToFileURL(path.resolve(dir, 'dist/bench/device.js')).href)) as { deviceLoopback: Loopback }).deviceLoopback
} catch (error) {
  usage(`cannot load ${path.resolve(dir, 'dist/bench/device.js')} (is that checkout built?): ${error instanceof Error ? error.message : String(error)}`)
}

/** Frames per CPU-second of one figure. */
function perCpuSecond(run: Loopback, size: number, iommu: boolean): number {
  const start = process.cpuUsage()
  const r = run(size, iommu, seconds)
  const used = process.cpuUsage(start)
  return r.frames / ((used.user + used.system) / 1e6)
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const fmt = (x: number): string => Math.round(x).toLocaleString('en-US')

for (const iommu of [false, true]) {
  for (const size of [64, 1500]) {
    const theirs: number[] = []
    const ours: number[] = []
    for (let r = 0; r < rounds; r++) {
      // Alternate who goes first, so a load change within a round hits both alike.
      if (r % 2 === 0) {
        theirs.push(perCpuSecond(other, size, iommu))
        ours.push(perCpuSecond(deviceLoopback, size, iommu))
      } else {
        ours.push(perCpuSecond(deviceLoopback, size, iommu))
        theirs.push(perCpuSecond(other, size, iommu))
      }
    }
    const name = `device-${size}-iommu-${iommu ? 'on' : 'off'}`
    console.log(`${name.padEnd(24)} other ${fmt(median(theirs)).padStart(10)}  this ${fmt(median(ours)).padStart(10)} frames/CPU-s  ratio ${(median(ours) / median(theirs)).toFixed(3)}  (other ${theirs.map(fmt).join(', ')}; this ${ours.map(fmt).join(', ')})`)
  }
}
