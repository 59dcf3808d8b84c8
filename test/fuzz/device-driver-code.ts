// Hostile driver code in the device fuzzer: the bare-metal driver's code run as a handler runs
// (through the machine's DriverCaller, at PASSIVE_LEVEL, DISPATCH_LEVEL or DIRQL) that polls a
// register, stalls forever, throws something that is not an Error, or returns garbage. What
// must hold (issue 18, "time that passes like a machine's"):
//  - a poll for the transmit ring to drain, on a device in the state the driver left it, ends
//    because the device progresses while the CPU waits on its reads and stalls — never by the
//    watchdog;
//  - a loop that can never end is stopped by the handler watchdog in virtual time: a `hang`
//    finding naming the handler and the register it last read, DPC_WATCHDOG_VIOLATION (0x133)
//    at DISPATCH_LEVEL and above, dmalab's own hang below (bug check 0x133 reference page);
//  - whatever is thrown is a driver-exception (0x7E) and whatever is returned passes through
//    the caller without running a trap, a getter or a toString.
import fc from 'fast-check'
import type { Machine } from '../../src/machine.js'
import { DISPATCH_LEVEL, DEVICE_IRQL, PASSIVE_LEVEL } from '../../src/kernel/irql.js'
import { BUGCHECK } from '../../src/kernel/bugcheck.js'
import { e1000, type BareMetalE1000 } from '../support/e1000-driver.js'
import { violated } from './invariants.js'

export const DRIVER_CODES = [
  'drain-poll', 'drain-spin', 'poll-never', 'stall-forever',
  'throw-proxy', 'throw-null-proto', 'throw-symbol', 'throw-bigint', 'throw-getters', 'return-garbage',
] as const
export type DriverCode = (typeof DRIVER_CODES)[number]

export interface DriverCodeOp {
  readonly op: 'driver-code'
  readonly code: DriverCode
  readonly irql: 0 | 2 | 5
  /** The handler watchdog's allotment for this call, in microseconds of virtual time. */
  readonly limitUs: number
  readonly garbage: number
}

export const driverCodeOp: fc.Arbitrary<DriverCodeOp> = fc.record({
  op: fc.constant('driver-code' as const),
  code: fc.constantFrom(...DRIVER_CODES),
  irql: fc.constantFrom<0 | 2 | 5>(PASSIVE_LEVEL, DISPATCH_LEVEL, DEVICE_IRQL as 5),
  limitUs: fc.constantFrom(50, 500, 5_000),
  garbage: fc.nat(),
})

/** Findings hostile driver code may add to a bare machine's device kinds. */
export const DRIVER_CODE_KINDS = new Set(['hang', 'driver-exception', 'async-driver-code', 'bad-return-value'])

/** 8254x STATUS (13.4.2): bit 31 is reserved and reads as 0, so a poll for it never ends. */
const STATUS = 0x0008
const RESERVED_BIT = 0x8000_0000
const TDH = 0x3810
/** The 82540EM's memory BAR: 128 KiB of registers (8254x manual 4.1, Table 4-2). */
const REGISTER_WINDOW = 0x2_0000
const TDT = 0x3818
/** The allotment a drain poll gets when the device can finish: far more than a ring takes. */
const DRAIN_LIMIT_NS = 200_000_000
/** A drain poll that stalls between reads waits this long each time (NdisStallExecution's typical use). */
const DRAIN_STALL_US = 10

/** A rejected Promise a driver returns: the caller settles it quietly (a finding, never a crash). */
const REJECTED = Promise.reject(new Error('late'))
REJECTED.catch(() => {})

const GARBAGE: readonly unknown[] = [
  undefined, Number.NaN, 1e308, -0, 10n, Symbol('status'), 'SUCCESS', {}, Object.create(null),
  new Proxy({}, { get: () => { throw new Error('trap') }, getPrototypeOf: () => { throw new Error('trap') } }),
  () => 0, REJECTED, { then: () => { throw new Error('thenable') } },
]

function thrown(code: DriverCode): unknown {
  switch (code) {
    case 'throw-proxy':
      return new Proxy(new Error('proxied'), { get: () => { throw new Error('trap') }, getPrototypeOf: () => { throw new Error('trap') }, getOwnPropertyDescriptor: () => { throw new Error('trap') } })
    case 'throw-null-proto':
      return Object.create(null)
    case 'throw-symbol':
      return Symbol('oddity')
    case 'throw-bigint':
      return 2n ** 70n
    default: {
      const e = new Error('getters')
      Object.defineProperty(e, 'stack', { get: () => { throw new Error('stack getter') } })
      Object.defineProperty(e, 'message', { get: () => { throw new Error('message getter') } })
      return e
    }
  }
}

/**
 * The device is as the driver left it after its last doorbell, so the ring it is sending can
 * only drain: the driver's registers reach the NIC, its ring is programmed as it programmed
 * it, transmit and bus mastering are on, the link is up and nothing stopped the engine.
 */
export function canDrain(m: Machine, d: BareMetalE1000 | null, untouched: boolean): boolean {
  if (d === null || !untouched || m.kernel.log.stopped) return false
  const e = e1000(m)
  const ring = e.tx.ring
  return m.bus.targetOf(d.bar) === 'mmio' && m.bus.regionAt(d.bar)?.handler === e && ring.base === d.device(d.txRing) % 2 ** m.nic.dma.addressBits &&
    ring.count === d.txCount && ring.tail === d.txTail && (e.tx.control & 0x2) !== 0 && m.nic.linkUp && m.nic.dma.busMasterEnabled && !e.tx.stopped
}

function overlapsRam(m: Machine, pa: number, bytes: number): boolean {
  for (let page = pa - (pa % 4096); page < pa + bytes; page += 4096) if (m.ram.isRam(page, 1)) return true
  return false
}

/**
 * Runs one piece of hostile driver code and checks its verdict. Returns true when the machine
 * stopped (the program ends there: a stopped machine runs nothing more).
 */
export function runDriverCode(m: Machine, op: DriverCodeOp, drainable: boolean): boolean {
  const k = m.kernel
  const cpu = k.cpuTime
  // Driver code reaches the registers as a driver does, through a mapping of the BAR (so each
  // access is a bus transaction that takes time): only while the BAR decodes to the NIC.
  // (A BAR moved over RAM is the fuzzer's doing; MmMapIoSpace refuses RAM no one locked.)
  if (m.bus.regionAt(m.nic.bar0)?.handler !== e1000(m) || overlapsRam(m, m.nic.bar0, REGISTER_WINDOW)) return false
  const bar = k.ioSpace.map(m.nic.bar0, REGISTER_WINDOW, 'noncached', true, 'MmMapIoSpace', undefined, false)
  if (bar === 0) violated(`the NIC's register window at ${m.nic.bar0.toString(16)} could not be mapped`)
  const mem = k.memory
  const saved = cpu.limitNs
  const mustDrain = drainable && (op.code === 'drain-poll' || op.code === 'drain-spin')
  cpu.limitNs = mustDrain ? DRAIN_LIMIT_NS : op.limitUs * 1000
  const before = m.findings.length
  let head = -1
  let tail = -2
  const handler = 'fuzz driver code'
  let returned: unknown
  try {
    returned = m.caller.call(handler, op.irql, (): unknown => {
      switch (op.code) {
        case 'drain-poll':
          // Reads TDH and TDT, stalling between reads, until the device has sent what it was given.
          for (;;) {
            head = mem.read32(bar + TDH)
            tail = mem.read32(bar + TDT)
            if (head === tail) return 0
            k.cpuTime.stall('KeStallExecutionProcessor', DRAIN_STALL_US)
          }
        case 'drain-spin':
          // The same poll with no stall: only the reads' bus time passes.
          for (;;) {
            head = mem.read32(bar + TDH)
            tail = mem.read32(bar + TDT)
            if (head === tail) return 0
          }
        case 'poll-never':
          while ((mem.read32(bar + STATUS) & RESERVED_BIT) === 0) { /* a bit that never sets */ }
          return 0
        case 'stall-forever':
          for (;;) k.cpuTime.stall('KeStallExecutionProcessor', 100)
        case 'return-garbage':
          return GARBAGE[op.garbage % GARBAGE.length]
        default:
          throw thrown(op.code)
      }
    })
  } finally {
    cpu.limitNs = saved
    if (!k.log.stopped) k.ioSpace.unmap(bar, REGISTER_WINDOW, 'MmUnmapIoSpace', 'the fuzz driver code\'s register window')
  }
  const added = m.findings.slice(before)
  const stopped = k.log.stopped
  const hang = added.find((f) => f.kind === 'hang')
  switch (op.code) {
    case 'drain-poll':
    case 'drain-spin':
      if (mustDrain && stopped) violated(`a poll for the transmit ring to drain, on a device that could drain it, was stopped: ${added.map((f) => `${f.kind}: ${f.message}`).join('; ')}`)
      if (!stopped && head !== tail) violated(`a drain poll returned with TDH ${head} and TDT ${tail}`)
      if (stopped && hang === undefined && added.every((f) => f.kind !== 'driver-exception')) violated(`a drain poll stopped the machine with no hang: ${added.map((f) => f.kind).join(', ')}`)
      break
    case 'poll-never':
    case 'stall-forever': {
      if (!stopped || hang === undefined) violated(`${op.code} at IRQL ${op.irql} ended without a hang finding (${added.map((f) => f.kind).join(', ') || 'none'})`)
      const watchdog = op.irql >= DISPATCH_LEVEL
      if ((hang.code === BUGCHECK.DPC_WATCHDOG_VIOLATION) !== watchdog) violated(`${op.code} at IRQL ${op.irql} gave bug check ${hang.code}: DPC_WATCHDOG_VIOLATION is for DISPATCH_LEVEL and above only`)
      if (!hang.message.startsWith(`${handler} ran for over `)) violated(`the hang does not name the handler: ${hang.message}`)
      if (op.code === 'poll-never' && !/it last read register 0x0*8 of /.test(hang.message)) violated(`the hang does not name the register polled: ${hang.message}`)
      break
    }
    case 'return-garbage': {
      // Read as a handler's status: garbage is bad-return-value, and only a real 0 is success.
      const status = m.caller.status(handler, returned, false)
      const more = m.findings.slice(before)
      if (status === undefined && !more.some((f) => f.kind === 'bad-return-value')) violated(`an unreadable status (${typeof returned}) gave no bad-return-value finding`)
      if (status === 0 && returned !== 0) violated(`${typeof returned} returned by driver code counted as success`)
      if (status !== undefined && !(Number.isInteger(status) && status >= 0 && status <= 0xffff_ffff)) violated(`status ${status} is not a 32-bit value`)
      for (const f of more) if (f.kind !== 'async-driver-code' && f.kind !== 'bad-return-value') violated(`driver code returning ${typeof returned} gave ${f.kind}: ${f.message}`)
      if (k.log.stopped) violated('a returned value stopped the machine')
      break
    }
    default:
      if (!stopped || !added.some((f) => f.kind === 'driver-exception' && f.code === BUGCHECK.SYSTEM_THREAD_EXCEPTION_NOT_HANDLED)) {
        violated(`driver code that threw (${op.code}) is no driver-exception 0x7E: ${added.map((f) => f.kind).join(', ') || 'nothing'}`)
      }
  }
  return stopped
}
