// Driver call sites: the source line in the driver that made a call (`examples/e1000/init.ts:42`),
// found as the first stack frame outside dmalab's own code.
//
// Two costs are kept apart. *Capturing* happens while the driver's frames are still on the
// stack, so it cannot wait; V8 records the raw frames when `Error.captureStackTrace` runs and
// formats them only when `.stack` is read, so a capture is a short stack walk. *Resolving* (text
// formatting, source maps, the path) happens only for sites a report or a filter needs.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { StackFrame } from '../hw/finding.js'

/** One frame of driver code: a source line and the function it is in. */
export type DriverFrame = StackFrame

/**
 * Source frames for a code offset of a WebAssembly driver module (a C driver: its DWARF line
 * table, inlined calls unfolded, innermost first). `moduleOffset` is the byte offset in the
 * module V8 prints in the frame; `fn` the wasm function's name there.
 */
export type WasmSymbolizer = (moduleOffset: number, fn: string) => ReadonlyArray<{ readonly file: string; readonly line: number; readonly function: string }>

/**
 * Symbolizers by module name: a frame of a wasm module reads
 * `at NAME.fn (wasm://wasm/NAME-HASH:wasm-function[N]:0xOFFSET)`. C driver modules are named by
 * their content (dmalab-c-<hash>), so one registration serves every machine that loads one.
 */
const wasmModules = new Map<string, WasmSymbolizer>()

export function registerWasmModule(name: string, symbolizer: WasmSymbolizer): void {
  wasmModules.set(name, symbolizer)
}

const WASM_FRAME = /at (?:([^\s(]+) )?\(?wasm:\/\/wasm\/(.+)-[0-9a-f]{8}:wasm-function\[\d+\]:0x([0-9a-f]+)\)?$/

/** The source frames of one V8 stack line of a registered wasm module, or undefined. */
function wasmFrames(line: string): ReadonlyArray<DriverFrame> | undefined {
  const m = WASM_FRAME.exec(line.trim())
  if (!m) return undefined
  const symbolize = wasmModules.get(m[2]!)
  if (symbolize === undefined) return undefined
  const qualified = m[1] ?? ''
  const fn = qualified.startsWith(`${m[2]}.`) ? qualified.slice(m[2]!.length + 1) : qualified
  return symbolize(parseInt(m[3]!, 16), fn).map((f) => ({ file: displayPath(f.file), line: f.line, function: f.function }))
}

/** A captured, unresolved site. */
export interface SiteToken {
  stack?: string
}

const here = path.dirname(fileURLToPath(import.meta.url))
/** dmalab's own source directory (`src/` from a checkout, `dist/src/` when compiled). */
const OWN_SRC = path.resolve(here, '..')
const ROOT = path.resolve(OWN_SRC, OWN_SRC.endsWith(`${path.sep}dist${path.sep}src`) ? '../..' : '..')
const OWN_DIRS = [path.join(ROOT, 'src') + path.sep, path.join(ROOT, 'dist', 'src') + path.sep]
/** The bundled miniports are drivers, even when dmalab is installed under node_modules. */
const EXAMPLE_DIRS = [path.join(ROOT, 'examples') + path.sep, path.join(ROOT, 'dist', 'examples') + path.sep]

/** `file:line:column` at the end of a V8 stack line: a path, a file:// URL or a node: internal. */
const FRAME = /\(?((?:file:\/\/|node:|\/|[A-Za-z]:\\)[^()]*?):(\d+):(\d+)\)?$/
/** A frame of dmalab's DriverCaller (`kernel/driver-call.ts`, or `.js` compiled). */
const CALLER_FRAME = /[\\/]kernel[\\/]driver-call\.[jt]s:\d+:\d+\)?$/
/** The function name of a V8 stack line: `at name (file:line:col)`; absent for `at file:line:col`. */
const FUNCTION = /^at (?:async )?(.+?) \(/

export type { StackFrame }

/** Frames to record for a capture: enough to get past dmalab's own layers to the driver. */
const CAPTURE_DEPTH = 24

/** True for frames that are not the driver's: dmalab itself, Node internals, dependencies. */
function isOwnFrame(file: string): boolean {
  if (file.startsWith('node:')) return true
  if (OWN_DIRS.some((d) => file.startsWith(d))) return true
  if (EXAMPLE_DIRS.some((d) => file.startsWith(d))) return false
  return file.includes(`${path.sep}node_modules${path.sep}`)
}

function displayPath(file: string): string {
  const rel = path.relative(ROOT, file)
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel.split(path.sep).join('/')
}

/** The file a site's path names (`examples/e1000/init.ts` is relative to dmalab's root). */
export function siteFile(displayed: string): string {
  return path.isAbsolute(displayed) ? displayed : path.join(ROOT, ...displayed.split('/'))
}

/** Parses one V8 stack line into `file:line`, or undefined for native/anonymous frames. */
function parseFrame(line: string): { file: string; line: number } | undefined {
  const m = FRAME.exec(line.trim())
  if (!m) return undefined
  let file = m[1]!
  if (file.startsWith('file://')) {
    try {
      file = fileURLToPath(file)
    } catch {
      return undefined
    }
  }
  return { file, line: Number(m[2]) }
}

/** The frames of a stack string that are the driver's, innermost first, as `file:line`. */
export function driverFrames(stack: string | undefined): string[] {
  return driverStack(stack).map((f) => `${f.file}:${f.line}`)
}

/** The frames of a stack string that are the driver's, innermost first, with their functions. */
export function driverStack(stack: string | undefined): StackFrame[] {
  return callStack(stack)?.frames ?? []
}

/**
 * The driver's frames of a stack, and whether they end at a call NDIS made into the driver.
 * Driver code runs inside DriverCaller.call: frames outside the outermost one are the host
 * program's that drove the machine (a test, a script calling m.traffic.send), not the driver's.
 * A stack with no such call is host code calling dmalab directly (its frames are the host's),
 * or a capture too shallow to tell.
 */
function callStack(stack: string | undefined): { frames: StackFrame[]; called: boolean; cut?: true } | undefined {
  if (stack === undefined) return undefined
  const out: StackFrame[] = []
  const lines = stack.split('\n')
  let end = lines.length
  let called = false
  for (let i = lines.length - 1; i >= 0; i--) {
    if (CALLER_FRAME.test(lines[i]!)) {
      end = i
      called = true
      break
    }
  }
  // Frames up to the outermost C driver frame: C code runs only inside a call NDIS made into the
  // driver, so a capture that holds C frames but stops short of the DriverCaller (deep recursion
  // filled it) is a driver stack cut short, not host code.
  let cEnd = 0
  for (let l = 0; l < end; l++) {
    const text = lines[l]!.trim()
    if (!text.startsWith('at ')) continue
    // A C driver's frames, from its debug information.
    const wasm = wasmFrames(text)
    if (wasm !== undefined) {
      out.push(...wasm)
      cEnd = out.length
      continue
    }
    const f = parseFrame(text)
    if (f === undefined || isOwnFrame(f.file)) continue
    out.push({ file: displayPath(f.file), line: f.line, function: functionName(text) })
  }
  if (!called && cEnd > 0) return { frames: out.slice(0, cEnd), called: true, cut: true }
  return { frames: out, called }
}

/** The driver's call stack of a capture: its frames when they lead to a call NDIS made into the driver, else none. */
function driverCallStack(stack: string | undefined): StackFrame[] {
  return calledFrames(callStack(stack))
}

function calledFrames(s: ReturnType<typeof callStack>): StackFrame[] {
  if (s === undefined || !s.called) return []
  remember(s.frames)
  return s.frames
}

/** `Object.sendNetBufferLists` → `sendNetBufferLists`; an anonymous frame is `<anonymous>`. */
function functionName(text: string): string {
  const m = FUNCTION.exec(text)
  if (m === null) return '<anonymous>'
  const name = m[1]!.replace(/^(?:Object|Module|Function)\./, '').replace(/ \[as [^\]]+\]$/, '')
  return name === '' ? '<anonymous>' : name
}

/**
 * The full driver stack last seen for each resolved site (`file:line`): a finding that names
 * only the line (a leak's allocation, a buffer a device access hit) carries the stack of the
 * call that line made. Filled when a captured site is resolved; resolving is rare (reports,
 * filters, findings), so this costs nothing on per-packet paths.
 */
const stackBySite = new Map<string, StackFrame[]>()
const STACKS_KEPT = 4096

function remember(stack: StackFrame[]): void {
  const top = stack[0]
  if (top === undefined) return
  const key = `${top.file}:${top.line}`
  // Re-inserted, so the oldest entry is the least recently resolved one.
  stackBySite.delete(key)
  if (stackBySite.size >= STACKS_KEPT) stackBySite.delete(stackBySite.keys().next().value!)
  stackBySite.set(key, stack)
}

/** The driver stack behind a site, when one was resolved; else the site alone as one frame. */
export function stackForSite(site: string | undefined): StackFrame[] | undefined {
  if (site === undefined) return undefined
  const bare = site.replace(/ \(sampled\)$/, '')
  const known = stackBySite.get(bare)
  if (known !== undefined) return known
  const m = /^(.*):(\d+)$/.exec(bare)
  return m === null ? undefined : [{ file: m[1]!, line: Number(m[2]), function: '<unknown>' }]
}

/** Captures the current stack without formatting it. */
export function captureSite(depth = CAPTURE_DEPTH): SiteToken {
  const token: SiteToken = {}
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = depth
  Error.captureStackTrace(token, captureSite)
  Error.stackTraceLimit = limit
  return token
}

/** Frames a finding's stack capture records: deep enough for the driver's whole stack. */
const FINDING_DEPTH = 64

/** The driver line a captured stack points at (the innermost driver frame). */
export function resolveSite(token: SiteToken | undefined): string | undefined {
  const s = callStack(token?.stack)
  if (s?.called === true) remember(s.frames)
  const top = s?.frames[0]
  return top === undefined ? undefined : `${top.file}:${top.line}`
}

/** Capture and resolve at once: for rare events (findings), where cost does not matter. */
export function siteHere(): string | undefined {
  return resolveSite(captureSite())
}

/**
 * Frames a finding's capture records when the first one was cut short inside C code: a kernel
 * stack overflow is recursion 12 KiB deep (its smallest frames a return address and a saved
 * register), and its stack should reach the handler whose call began it.
 */
const DEEP_FINDING_DEPTH = 2048

/** The driver's frames of the stack right here (a finding reported while driver code runs). */
export function stackHere(): StackFrame[] {
  let s = callStack(captureSite(FINDING_DEPTH).stack)
  if (s?.cut === true) s = callStack(captureSite(DEEP_FINDING_DEPTH).stack)
  return calledFrames(s)
}

/** The driver's part of the call stack, innermost first (for stack-mode sweeps). */
export function stackOf(token: SiteToken | undefined): string[] {
  return driverFrames(token?.stack)
}

/** The driver's frames of a captured stack, with their functions. */
export function framesOf(token: SiteToken | undefined): StackFrame[] {
  return driverCallStack(token?.stack)
}
