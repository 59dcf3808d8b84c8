// The Ethernet FCS: CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, initial value and
// final XOR all-ones), table-driven. The receive engine appends it to frames in host memory
// when RCTL.SECRC is clear, since frames on this wire carry no FCS.
const TABLE = (() => {
  const t = new Int32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xedb8_8320 ^ (c >>> 1) : c >>> 1
    t[n] = c
  }
  return t
})()

export function crc32(buf: Uint8Array, offset: number, length: number): number {
  let c = -1
  for (let i = offset, end = offset + length; i < end; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ -1) >>> 0
}

/** Writes the FCS of `buf[offset, offset + length)` right after it, least significant byte first. */
export function appendFcs(buf: Uint8Array, offset: number, length: number): void {
  const fcs = crc32(buf, offset, length)
  const at = offset + length
  buf[at] = fcs & 0xff
  buf[at + 1] = (fcs >>> 8) & 0xff
  buf[at + 2] = (fcs >>> 16) & 0xff
  buf[at + 3] = fcs >>> 24
}
