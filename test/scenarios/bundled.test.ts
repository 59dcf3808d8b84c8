import { describe, expect, it } from 'vitest'
import { bundledMiniports, resolveMiniport } from '../../src/driver/loader.js'

describe('bundled miniports', () => {
  it('lists the e1000, wdm-dma, every buggy variant and the C miniports, and nothing that is not a miniport', () => {
    expect(bundledMiniports().map((m) => m.name)).toEqual([
      'buggy/first-sg-element-only',
      'buggy/free-rings-before-stop',
      'buggy/ignores-packet-filter',
      'buggy/leak-on-halt',
      'buggy/mismatched-free',
      'buggy/must-succeed',
      'buggy/ndis5/context-leak',
      'buggy/ndis5/ignores-highest-address',
      'buggy/ndis5/map-register-leak',
      'buggy/ndis5/runtime-contiguous',
      'buggy/noncached-dma',
      'buggy/overrun',
      'buggy/paged-at-dispatch',
      'buggy/physaddr-dma',
      'buggy/pool-dma-above-4g',
      'buggy/runtime-contiguous',
      'buggy/tx-ring-full-stall',
      'buggy/unchecked-allocation',
      'c/buggy/overrun',
      'c/buggy/pool-dma-above-4g',
      'c/buggy/unchecked-allocation',
      'c/buggy/use-after-free',
      'c/e1000',
      'c/e1000-ndis5',
      'c/minimal',
      'e1000',
      'e1000-ndis5',
      'wdm-dma',
    ])
  })

  it('resolves a bundled name to examples/<name>.ts or examples/<name>/index.ts', () => {
    expect(resolveMiniport('buggy/leak-on-halt').file).toMatch(/examples[\\/]buggy[\\/]leak-on-halt\.ts$/)
    expect(resolveMiniport('wdm-dma').file).toMatch(/examples[\\/]wdm-dma[\\/]index\.ts$/)
  })
})
