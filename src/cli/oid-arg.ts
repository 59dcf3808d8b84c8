// `--oid NAME[=VALUE]`: one OID request for the run, issued once TCP/IP has bound. Without a
// value it is a query; with one a set. A value is a number (decimal or 0x hex; a ULONG), packet
// filter types joined by `|` (DIRECTED|MULTICAST|BROADCAST, or their NDIS_PACKET_TYPE_ names),
// or MAC addresses separated by commas (a multicast list).
import { NDIS_PACKET_TYPE, OID } from '../ndis/constants.js'
import type { OidRequestOptions } from '../ndis/binding.js'
import { UsageError } from './args.js'

export function parseOidOption(text: string): OidRequestOptions {
  const eq = text.indexOf('=')
  const name = (eq < 0 ? text : text.slice(0, eq)).trim()
  const oid = oidByName(name)
  if (eq < 0) return { request: 'query', oid }
  return { request: 'set', oid, value: oidValue(name, text.slice(eq + 1).trim()) }
}

function oidByName(name: string): number {
  const known = (OID as Record<string, number>)[name] ?? (OID as Record<string, number>)[`OID_${name}`]
  if (known !== undefined) return known
  if (/^0x[0-9a-f]{1,8}$/i.test(name)) return Number.parseInt(name, 16)
  throw new UsageError(`--oid: unknown OID "${name}" (a name such as OID_GEN_CURRENT_PACKET_FILTER, or a value such as 0x0001010e)`)
}

function oidValue(name: string, value: string): number | Uint8Array {
  if (/^(0x[0-9a-f]+|\d+)$/i.test(value)) {
    const n = Number(value)
    if (n > 0xffff_ffff) throw new UsageError(`--oid ${name}: ${value} does not fit a ULONG`)
    return n
  }
  if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}(,([0-9a-f]{2}:){5}[0-9a-f]{2})*$/i.test(value)) {
    return Uint8Array.from(value.split(/[:,]/).map((h) => Number.parseInt(h, 16)))
  }
  let filter = 0
  for (const part of value.split('|')) {
    const key = part.trim().toUpperCase()
    const bit = (NDIS_PACKET_TYPE as Record<string, number>)[key] ?? (NDIS_PACKET_TYPE as Record<string, number>)[`NDIS_PACKET_TYPE_${key}`]
    if (bit === undefined) {
      throw new UsageError(`--oid ${name}=${value}: a value is a number, packet types such as DIRECTED|BROADCAST, or MAC addresses separated by commas`)
    }
    filter |= bit
  }
  return filter
}
