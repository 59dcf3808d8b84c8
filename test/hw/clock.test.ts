import { describe, expect, it } from 'vitest'
import { Clock } from '../../src/hw/clock.js'

describe('clock and event queue', () => {
  it('runs events in time order and events at equal times in the order they were scheduled', () => {
    const clock = new Clock()
    const seen: string[] = []
    clock.schedule(30, 'c', () => seen.push('c'))
    clock.schedule(10, 'a1', () => seen.push('a1'))
    clock.schedule(10, 'a2', () => seen.push('a2'))
    clock.schedule(20, 'b', () => seen.push('b'))
    clock.schedule(10, 'a3', () => seen.push('a3'))
    clock.runUntilIdle()
    expect(seen).toEqual(['a1', 'a2', 'a3', 'b', 'c'])
    expect(clock.now).toBe(30)
  })

  it('run({ ns }) stops at the window end and leaves later events pending', () => {
    const clock = new Clock()
    const seen: number[] = []
    for (const t of [5, 15, 25]) clock.schedule(t, `t${t}`, () => seen.push(clock.now))
    const r = clock.run(20)
    expect(r.completed).toBe(true)
    expect(seen).toEqual([5, 15])
    expect(clock.now).toBe(20)
    expect(clock.pending).toBe(1)
  })

  it('re-arming a timer moves it instead of adding a second event', () => {
    const clock = new Clock()
    let fired = 0
    const t = clock.timer('t', () => fired++)
    clock.arm(t, 100)
    clock.arm(t, 50)
    expect(clock.pending).toBe(1)
    clock.runUntilIdle()
    expect(fired).toBe(1)
    expect(clock.now).toBe(50)
  })

  it('cancelled timers never fire, and the heap stays ordered after removals', () => {
    const clock = new Clock()
    const order: number[] = []
    const timers = Array.from({ length: 50 }, (_, i) => clock.timer(`t${i}`, () => order.push(i)))
    timers.forEach((t, i) => clock.arm(t, (i * 37) % 50))
    for (let i = 0; i < 50; i += 3) clock.cancel(timers[i]!)
    clock.runUntilIdle()
    const expected = timers.map((_, i) => i).filter((i) => i % 3 !== 0).sort((a, b) => ((a * 37) % 50) - ((b * 37) % 50))
    expect(order).toEqual(expected)
  })

  it('time never goes backwards: arming in the past fires now', () => {
    const clock = new Clock()
    clock.run(1000)
    let at = -1
    clock.schedule(-500, 'past', () => (at = clock.now))
    clock.runUntilIdle()
    expect(at).toBe(1000)
  })

  it('a runaway event source hits the bound instead of hanging the host', () => {
    const clock = new Clock()
    const t = clock.timer('runaway', () => clock.armAfter(t, 1))
    clock.arm(t, 0)
    const r = clock.runUntilIdle(10_000)
    expect(r.boundHit).toBe(true)
    expect(r.events).toBe(10_000)
  })

  it('a stop request ends the loop after the current event', () => {
    const clock = new Clock()
    let n = 0
    for (let i = 0; i < 10; i++) clock.schedule(i, `e${i}`, () => { if (++n === 3) clock.requestStop() })
    const r = clock.runUntilIdle()
    expect(r.stopped).toBe(true)
    expect(n).toBe(3)
  })
})
