// Page notes for memory the kernel unmaps or guards: what it was, where it was allocated and
// where it was freed, for the page-fault message of a driver that touches it later.
//
// Resolving a call site to `file:line` costs tens of microseconds (stack formatting), so a
// note keeps the captured site and resolves it only when a fault message asks. The free site
// must be captured while the driver's frames are on the stack, so it is captured at the free.
import type { PageNote } from './address-space.js'
import { siteText, type CallSite } from './calls.js'
import { captureSite, resolveSite, type SiteToken } from './sites.js'

type Guard = NonNullable<PageNote['guard']>

/** A note whose sites resolve on first read (PageNote treats '' as "not known"). */
export function pageNote(what: string, allocated: CallSite | undefined, freed?: SiteToken, guard?: Guard): PageNote {
  let site: string | undefined
  let freedAt: string | undefined
  const note = {
    what,
    get site(): string {
      site ??= siteText(allocated) ?? ''
      return site
    },
    get freedAt(): string {
      freedAt ??= freed === undefined ? '' : (resolveSite(freed) ?? '')
      return freedAt
    },
  }
  return guard === undefined ? note : Object.assign(note, { guard })
}

/**
 * Captures the current driver call site for a later `freedAt` (a stack walk, ~1.5 µs or more),
 * unless the machine runs without call sites (a sweep's quick runs).
 */
export function freeSite(kernel: { readonly calls: { readonly captureSites: boolean } }): SiteToken | undefined {
  return kernel.calls.captureSites ? captureSite() : undefined
}
