// Virtual time in nanoseconds and the machine's one event queue.
//
// Devices own `Timer` objects and re-arm them, so the per-frame paths allocate nothing: a
// timer sits in the heap at most once, and arming it again moves it. Events due at the same
// time run in the order they were armed (a sequence number breaks ties), which keeps every
// run of the same machine byte-for-byte identical.

export type TimerCallback = () => void

export class Timer {
  /** Virtual time the timer fires at; meaningful only while armed. */
  at = 0
  /** Tie-breaker: the order in which timers due at the same time were armed. */
  seq = 0
  /** Position in the heap, or -1 when not armed. */
  index = -1
  readonly name: string
  readonly callback: TimerCallback
  /**
   * A background timer fires as time passes but does not keep the machine busy: a periodic
   * watchdog (a driver's periodic timer, NDIS's check-for-hang) would otherwise make
   * `runUntilIdle` spin until its event bound.
   */
  readonly background: boolean
  /**
   * The callback needs the CPU (it runs software: an interrupt service routine, a DPC, a
   * protocol's send). While the CPU is busy in other code (`advanceBusy`), such a timer waits
   * until that code returns; hardware timers fire on time regardless.
   */
  readonly needsCpu: boolean

  constructor(name: string, callback: TimerCallback, background = false, needsCpu = false) {
    this.name = name
    this.callback = callback
    this.background = background
    this.needsCpu = needsCpu
  }

  get armed(): boolean {
    return this.index >= 0
  }
}

export interface RunResult {
  /** Events dispatched by this call. */
  events: number
  /** True when the queue is empty (runUntilIdle) or the window was fully covered (run). */
  completed: boolean
  /** True when the event bound stopped the run: a runaway device, not a hang of the host. */
  boundHit: boolean
  /** True when a stop was requested (a bug check) and the run ended early. */
  stopped: boolean
}

/** Default bound on events per run call: generous for millions of frames, finite for a loop. */
export const DEFAULT_EVENT_BOUND = 20_000_000

export class Clock {
  /** Current virtual time in nanoseconds. Never goes backwards. */
  now = 0
  /** Events dispatched since the clock was created. */
  eventsDispatched = 0
  /**
   * Virtual time at which `onSample` wants to look at the machine, before the first event due
   * then or later runs (a report's time series); Infinity when nobody samples, so the event
   * loop pays one comparison.
   */
  sampleAt = Infinity
  onSample: ((at: number) => void) | null = null
  /**
   * A counter that moves whenever the machine makes progress (an event, CPU time spent): a
   * watchdog on another thread reads it, so it may be swapped for a shared array.
   */
  progress: Float64Array<ArrayBufferLike> = new Float64Array(1)
  private readonly heap: Timer[] = []
  private nextSeq = 0
  private stopRequested = false
  /** Armed timers that are not background timers: the machine is idle when this is 0. */
  private foreground = 0

  timer(name: string, callback: TimerCallback, options: { readonly background?: boolean; readonly needsCpu?: boolean } = {}): Timer {
    return new Timer(name, callback, options.background === true, options.needsCpu === true)
  }

  /** One-shot convenience for rare events; per-frame paths re-arm their own timers instead. */
  schedule(delayNs: number, name: string, callback: TimerCallback, options: { readonly needsCpu?: boolean } = {}): Timer {
    const t = new Timer(name, callback, false, options.needsCpu === true)
    this.arm(t, this.now + delayNs)
    return t
  }

  /** Arms (or re-arms) `timer` to fire at absolute time `at` (clamped to now). */
  arm(timer: Timer, at: number): void {
    const when = at < this.now ? this.now : at
    if (timer.index >= 0) this.removeAt(timer.index)
    if (!timer.background) this.foreground++
    timer.at = when
    timer.seq = this.nextSeq++
    timer.index = this.heap.length
    this.heap.push(timer)
    this.siftUp(timer.index)
  }

  armAfter(timer: Timer, delayNs: number): void {
    this.arm(timer, this.now + delayNs)
  }

  cancel(timer: Timer): void {
    if (timer.index >= 0) this.removeAt(timer.index)
  }

  get pending(): number {
    return this.heap.length
  }

  /** Armed timers other than background ones. */
  get busy(): number {
    return this.foreground
  }

  /** Time of the next event, or Infinity when idle. */
  nextEventAt(): number {
    return this.heap.length > 0 ? this.heap[0]!.at : Infinity
  }

  /** Asks the running loop to stop after the current event (used when the machine bug checks). */
  requestStop(): void {
    this.stopRequested = true
  }

  clearStop(): void {
    this.stopRequested = false
  }

  /** Runs every event due within the next `ns` nanoseconds, then sets now to the window's end. */
  run(ns: number, maxEvents = DEFAULT_EVENT_BOUND): RunResult {
    const end = this.now + Math.max(0, ns)
    let events = 0
    while (this.heap.length > 0 && this.heap[0]!.at <= end) {
      if (this.stopRequested) return { events, completed: false, boundHit: false, stopped: true }
      if (events >= maxEvents) return { events, completed: false, boundHit: true, stopped: false }
      this.dispatchNext()
      events++
    }
    if (this.stopRequested) return { events, completed: false, boundHit: false, stopped: true }
    // Code that ran in an event may have spent CPU time past the window's end (advanceBusy).
    if (end > this.now) this.now = end
    return { events, completed: true, boundHit: false, stopped: false }
  }

  /**
   * The CPU is busy for `ns` (a register access, a stall) inside code that itself runs in an
   * event or a host step: time passes and hardware progresses meanwhile (so a polling loop sees
   * the device finish), while timers that need the CPU wait until that code is done; they are
   * re-armed at the end of the window in the order they fell due. At most `maxEvents` hardware
   * events run (a runaway device cannot hold the CPU's clock still).
   */
  advanceBusy(ns: number, maxEvents = DEFAULT_EVENT_BOUND): void {
    const end = this.now + ns
    const heap = this.heap
    this.progress[0]! += 1
    let waiting: Timer[] | null = null
    let events = 0
    while (heap.length > 0 && heap[0]!.at <= end && !this.stopRequested && events < maxEvents) {
      const timer = heap[0]!
      if (timer.needsCpu) {
        this.removeAt(0)
        if (waiting === null) waiting = []
        waiting.push(timer)
        continue
      }
      this.dispatchNext()
      events++
    }
    if (end > this.now) this.now = end
    if (waiting !== null) for (const t of waiting) if (!t.armed) this.arm(t, this.now)
  }

  /**
   * Runs events until none are left but background timers (which fire on the way when they
   * fall due before the last foreground event), or the bound is hit.
   */
  runUntilIdle(maxEvents = DEFAULT_EVENT_BOUND): RunResult {
    let events = 0
    while (this.foreground > 0) {
      if (this.stopRequested) return { events, completed: false, boundHit: false, stopped: true }
      if (events >= maxEvents) return { events, completed: false, boundHit: true, stopped: false }
      this.dispatchNext()
      events++
    }
    return { events, completed: !this.stopRequested, boundHit: false, stopped: this.stopRequested }
  }

  private dispatchNext(): void {
    const timer = this.heap[0]!
    if (timer.at >= this.sampleAt) this.onSample?.(timer.at)
    this.removeAt(0)
    if (timer.at > this.now) this.now = timer.at
    this.eventsDispatched++
    this.progress[0]! += 1
    timer.callback()
  }

  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }

  private removeAt(i: number): void {
    const heap = this.heap
    const removed = heap[i]!
    const last = heap.pop()!
    removed.index = -1
    if (!removed.background) this.foreground--
    if (i < heap.length) {
      heap[i] = last
      last.index = i
      this.siftDown(i)
      this.siftUp(last.index)
    }
  }

  private siftUp(i: number): void {
    const heap = this.heap
    const item = heap[i]!
    while (i > 0) {
      const parentIndex = (i - 1) >> 1
      const parent = heap[parentIndex]!
      if (!this.less(item, parent)) break
      heap[i] = parent
      parent.index = i
      i = parentIndex
    }
    heap[i] = item
    item.index = i
  }

  private siftDown(i: number): void {
    const heap = this.heap
    const n = heap.length
    const item = heap[i]!
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      let child = left
      if (right < n && this.less(heap[right]!, heap[left]!)) child = right
      const c = heap[child]!
      if (!this.less(c, item)) break
      heap[i] = c
      c.index = i
      i = child
    }
    heap[i] = item
    item.index = i
  }
}
