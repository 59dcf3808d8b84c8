// The NIC's EEPROM image: 64 16-bit words (the 82540EM's 1 Kbit Microwire part), read through
// EERD. Manual 5.6 "EEPROM address map": words 0–2 the Ethernet address (byte 0 in the low
// byte of word 0), 0x0B subsystem id, 0x0C subsystem vendor, 0x0D device id, 0x0E vendor id,
// and word 0x3F a checksum chosen so words 0x00–0x3F sum to 0xBABA (5.6.17) — what drivers
// check before trusting the image.
export const EEPROM_WORDS = 64
export const EEPROM_CHECKSUM_WORD = 0x3f
export const EEPROM_SUM = 0xbaba

export interface EepromIdentity {
  readonly mac: Uint8Array
  readonly deviceId: number
  readonly vendorId: number
  readonly subsystemId: number
  readonly subsystemVendorId: number
}

export class Eeprom {
  readonly words = new Uint16Array(EEPROM_WORDS)

  constructor(identity: EepromIdentity) {
    const w = this.words
    const mac = identity.mac
    for (let i = 0; i < 3; i++) w[i] = mac[i * 2]! | (mac[i * 2 + 1]! << 8)
    w[0x0b] = identity.subsystemId
    w[0x0c] = identity.subsystemVendorId
    w[0x0d] = identity.deviceId
    w[0x0e] = identity.vendorId
    let sum = 0
    for (let i = 0; i < EEPROM_CHECKSUM_WORD; i++) sum = (sum + w[i]!) & 0xffff
    w[EEPROM_CHECKSUM_WORD] = (EEPROM_SUM - sum) & 0xffff
  }

  /** A word; addresses beyond the part read as an unprogrammed EEPROM (all ones). */
  read(address: number): number {
    return address < EEPROM_WORDS ? this.words[address]! : 0xffff
  }
}
