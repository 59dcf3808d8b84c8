// NDIS spin locks on one emulated CPU. NdisAcquireSpinLock raises to DISPATCH_LEVEL and keeps
// the previous IRQL in the lock; NdisReleaseSpinLock lowers back to it. The Dpr variants are
// for callers already at DISPATCH_LEVEL and leave the IRQL alone. On one CPU, acquiring a lock
// that is already held can never succeed (the holder cannot run until we return): Windows
// hangs; dmalab stops the machine and says which lock.
import { BUGCHECK } from '../kernel/bugcheck.js'
import { DISPATCH_LEVEL, irqlName } from '../kernel/irql.js'
import type { Kernel } from '../kernel/kernel.js'
import { siteHere } from '../kernel/sites.js'
import { DMALAB_P1 } from '../kernel/kinds.js'
import { IRQL_API, requireIrql, requireIrqlExactly } from '../kernel/irql-checks.js'
import type { NDIS_SPIN_LOCK } from './types.js'

/** dmalab's own parameter 1 for spin-lock misuse found on one CPU (Windows hangs instead). */
export const SPIN_LOCK_MISUSE = DMALAB_P1.spinLockMisuse

export class SpinLocks {
  private readonly kernel: Kernel
  private nextId = 1
  private readonly live = new Set<number>()

  constructor(kernel: Kernel) {
    this.kernel = kernel
  }

  allocate(): { spinLock: NDIS_SPIN_LOCK } {
    const spinLock: NDIS_SPIN_LOCK = { id: this.nextId++, held: false, OldIrql: 0 }
    this.live.add(spinLock.id)
    return { spinLock }
  }

  free(lock: NDIS_SPIN_LOCK): void {
    if (!this.check(lock, 'NdisFreeSpinLock')) return
    if (lock.held) this.misuse(lock, 'NdisFreeSpinLock of a lock that is held', true)
    this.live.delete(lock.id)
  }

  acquire(lock: NDIS_SPIN_LOCK, dpr: boolean): void {
    const k = this.kernel
    const routine = dpr ? 'NdisDprAcquireSpinLock' : 'NdisAcquireSpinLock'
    if (!this.check(lock, routine)) return
    if (lock.held) this.misuse(lock, `${routine} of spin lock #${lock.id}, already held: on one processor this never returns (deadlock)`, true)
    // The NDIS spin-lock routines wrap KeAcquireSpinLock[AtDpcLevel] / KeReleaseSpinLock[FromDpcLevel]:
    // bug check 0xC4 reference, 0x40/0x41 (the DPC-level variants below DISPATCH_LEVEL), 0x42
    // (KeAcquireSpinLock above DISPATCH_LEVEL), 0x32 (KeReleaseSpinLock at any IRQL but
    // DISPATCH_LEVEL). An NDIS_SPIN_LOCK here has no address: parameter 3 is 0.
    if (dpr) {
      requireIrqlExactly(k, routine, DISPATCH_LEVEL, k.irql < DISPATCH_LEVEL ? 0x40 : IRQL_API)
      lock.OldIrql = k.irql
    } else {
      requireIrql(k, routine, DISPATCH_LEVEL, 0x42)
      lock.OldIrql = k.irql
      if (k.irql < DISPATCH_LEVEL) k.irql = DISPATCH_LEVEL
    }
    lock.held = true
  }

  release(lock: NDIS_SPIN_LOCK, dpr: boolean): void {
    const k = this.kernel
    const routine = dpr ? 'NdisDprReleaseSpinLock' : 'NdisReleaseSpinLock'
    if (!this.check(lock, routine)) return
    if (!lock.held) {
      this.misuse(lock, `${routine} of spin lock #${lock.id}, which is not held`, false)
      return
    }
    requireIrqlExactly(k, routine, DISPATCH_LEVEL, dpr ? (k.irql < DISPATCH_LEVEL ? 0x41 : IRQL_API) : 0x32)
    lock.held = false
    if (!dpr) k.irql = lock.OldIrql
  }

  private check(lock: NDIS_SPIN_LOCK | null | undefined, routine: string): boolean {
    if (lock === null || lock === undefined || !this.live.has(lock.id)) {
      this.kernel.log.fatal({
        kind: 'spin-lock-misuse',
        code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        params: [SPIN_LOCK_MISUSE, 0, 0, 0],
        message: `${routine} of a spin lock that was never allocated or was already freed`,
        ...site(),
      })
    }
    return true
  }

  private misuse(lock: NDIS_SPIN_LOCK, message: string, fatal: boolean): void {
    const finding = {
      kind: 'spin-lock-misuse' as const,
      code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
      params: [SPIN_LOCK_MISUSE, lock.id, this.kernel.irql, 0] as const,
      message,
      ...site(),
    }
    if (fatal) this.kernel.log.fatal(finding)
    else this.kernel.log.violation(finding)
  }
}

function site(): { site?: string } {
  const s = siteHere()
  return s === undefined ? {} : { site: s }
}
