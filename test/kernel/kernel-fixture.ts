// A machine and its kernel API for the kernel memory tests, and helpers to see what a call did.
import { expect } from 'vitest'
import { BugCheck, createMachine, type MachineConfig } from '../../src/index.js'
import { createKernelApi, type KernelApi } from '../../src/kernel/api.js'
import type { Machine } from '../../src/machine.js'

export interface Fixture {
  readonly m: Machine
  readonly k: KernelApi
}

export function fixture(config: MachineConfig = {}): Fixture {
  const m = createMachine(config)
  return { m, k: createKernelApi(m.kernel) }
}

/** Runs `fn`, which must unwind with a BugCheck; returns it. */
export function bugCheckOf(fn: () => unknown): BugCheck {
  let caught: unknown
  try {
    fn()
  } catch (e) {
    caught = e
  }
  expect(caught).toBeInstanceOf(BugCheck)
  return caught as BugCheck
}

/** Page number of an address. */
export const page = (address: number): number => Math.floor(address / 4096)
