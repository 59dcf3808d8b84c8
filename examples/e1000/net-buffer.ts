// Copying a NET_BUFFER's data out of its MDL chain: what a driver does when it sends from its
// own buffer (a copy-on-send path) instead of mapping the protocol's pages.
import type { NdisApi } from '../../src/ndis/api.js'
import type { MDL, NET_BUFFER } from '../../src/ndis/types.js'

/** Copies a NET_BUFFER's data (from CurrentMdl + CurrentMdlOffset, through the MDL chain) to `va`. */
export function copyNetBuffer(ndis: NdisApi, nb: NET_BUFFER, va: number): void {
  let left = nb.DataLength
  let offset = nb.CurrentMdlOffset
  for (let mdl: MDL | null = nb.CurrentMdl; mdl !== null && left > 0; mdl = mdl.Next, offset = 0) {
    const take = Math.min(left, ndis.MmGetMdlByteCount(mdl) - offset)
    if (take <= 0) continue
    ndis.NdisMoveMemory(va + nb.DataLength - left, ndis.MmGetSystemAddressForMdlSafe(mdl, ndis.NormalPagePriority) + offset, take)
    left -= take
  }
}
