// The NIC's EEPROM: a 64-word (1 Kbit) Microwire part, as on the 82540EM (EECD.SIZE 0: six
// address bits), read by the device through EERD or by software bit-banging EECD (manual
// 5.3 and 13.4.3) once it holds the interface (EE_REQ, granted by EE_GNT).
//
// The image follows the address map of manual 5.6: words 0–2 the Ethernet address (byte 0 in
// the low byte of word 0); 08h–09h the printed board assembly (PBA) number; 0Ah
// Initialization Control Word 1 — its Signature bits 15:14 must be 01b or the device ignores
// words 00h–0Fh (5.6.35); 0Bh subsystem id, 0Ch subsystem vendor, 0Dh device id, 0Eh vendor
// id; 0Fh Initialization Control Word 2; word 3Fh a checksum chosen so words 00h–3Fh sum to
// BABAh (5.6.35), which drivers check before trusting the image.
//
// Microwire (the 93C46 protocol the 8254x drives, x16 organisation): with CS high, a start
// bit (1), a 2-bit opcode and 6 address bits are clocked in on DI at rising edges of SK;
// READ then drives a dummy 0 on DO and the word's 16 bits, most significant first, one per
// rising edge (continuing into the next word while clocked); EWEN/EWDS enable and disable
// writes; WRITE takes 16 more bits; ERASE sets the word to FFFFh. Writes complete at once: DO
// reads 1 (ready) after CS is raised again. Dropping CS ends any command.

export const EEPROM_WORDS = 64
export const EEPROM_ADDRESS_BITS = 6
export const EEPROM_CHECKSUM_WORD = 0x3f
export const EEPROM_SUM = 0xbaba

/** Word offsets of the manual's address map (5.6). */
export const EEPROM_WORD = {
  MAC: 0x00,
  PBA: 0x08,
  INIT_CONTROL_1: 0x0a,
  SUBSYSTEM_ID: 0x0b,
  SUBSYSTEM_VENDOR_ID: 0x0c,
  DEVICE_ID: 0x0d,
  VENDOR_ID: 0x0e,
  INIT_CONTROL_2: 0x0f,
} as const

/**
 * Initialization Control Word 1: Signature 01b (bits 15:14); FD (bit 10), full duplex after
 * reset; bits 1:0 load the subsystem and device ids from words 0Bh–0Eh into PCI configuration
 * space. Initialization Control Word 2: symmetric and asymmetric pause advertised (bits 13:12).
 */
export const INIT_CONTROL_1 = 0x4000 | 0x0400 | 0x0003
export const INIT_CONTROL_2 = 0x3000
/** PBA number A12345-004 (manual 5.6): six digits in words 08h–09h, then the suffix's last two. */
export const PBA_NUMBER = [0xa123, 0x4504] as const

export interface EepromIdentity {
  readonly mac: Uint8Array
  readonly deviceId: number
  readonly vendorId: number
  readonly subsystemId: number
  readonly subsystemVendorId: number
}

const OPCODE = { READ: 0b10, WRITE: 0b01, ERASE: 0b11, OTHER: 0b00 } as const
/** With opcode 00, the top two address bits choose: 11 EWEN, 00 EWDS, 10 ERAL, 01 WRAL. */
const EXTENDED = { EWEN: 0b11, EWDS: 0b00, ERAL: 0b10, WRAL: 0b01 } as const

type Phase = 'idle' | 'command' | 'read' | 'data' | 'ready'

export class Eeprom {
  readonly words = new Uint16Array(EEPROM_WORDS)
  /** What the part drives on DO (EECD.DO). */
  dataOut = 1
  private phase: Phase = 'idle'
  private bits = 0
  private shift = 0
  private address = 0
  private opcode = 0
  private outWord = 0
  private outBit = 0
  private writesEnabled = false
  private select = false
  private clock = false

  constructor(identity: EepromIdentity) {
    const w = this.words
    const mac = identity.mac
    for (let i = 0; i < 3; i++) w[EEPROM_WORD.MAC + i] = mac[i * 2]! | (mac[i * 2 + 1]! << 8)
    w[EEPROM_WORD.PBA] = PBA_NUMBER[0]
    w[EEPROM_WORD.PBA + 1] = PBA_NUMBER[1]
    w[EEPROM_WORD.INIT_CONTROL_1] = INIT_CONTROL_1
    w[EEPROM_WORD.SUBSYSTEM_ID] = identity.subsystemId
    w[EEPROM_WORD.SUBSYSTEM_VENDOR_ID] = identity.subsystemVendorId
    w[EEPROM_WORD.DEVICE_ID] = identity.deviceId
    w[EEPROM_WORD.VENDOR_ID] = identity.vendorId
    w[EEPROM_WORD.INIT_CONTROL_2] = INIT_CONTROL_2
    let sum = 0
    for (let i = 0; i < EEPROM_CHECKSUM_WORD; i++) sum = (sum + w[i]!) & 0xffff
    w[EEPROM_CHECKSUM_WORD] = (EEPROM_SUM - sum) & 0xffff
  }

  /** A word, as EERD reads it; addresses beyond the part read as an unprogrammed EEPROM (all ones). */
  read(address: number): number {
    return address < EEPROM_WORDS ? this.words[address]! : 0xffff
  }

  /** The Microwire lines as software drives them through EECD: chip select, clock, data in. */
  drive(cs: boolean, sk: boolean, di: boolean): void {
    if (!cs) {
      // CS low ends any command; the part idles with DO released (reads 1 through EECD).
      this.select = false
      this.clock = sk
      this.phase = 'idle'
      this.dataOut = 1
      return
    }
    if (!this.select) {
      this.select = true
      this.phase = 'command'
      this.bits = 0
      this.shift = 0
      this.dataOut = 1
    }
    const rising = sk && !this.clock
    this.clock = sk
    if (rising) this.edge(di ? 1 : 0)
  }

  /** Returns the bus to idle (a reset of the device does not erase the part). */
  release(): void {
    this.drive(false, false, false)
  }

  private edge(bit: number): void {
    switch (this.phase) {
      case 'command':
        // Zeros before the start bit are ignored.
        if (this.bits === 0 && bit === 0) return
        this.shift = (this.shift << 1) | bit
        this.bits++
        if (this.bits === 1 + 2 + EEPROM_ADDRESS_BITS) this.decode()
        return
      case 'read':
        this.dataOut = (this.outWord >>> (15 - this.outBit)) & 1
        if (++this.outBit === 16) {
          // Sequential read: the next word follows while the clock runs.
          this.address = (this.address + 1) % EEPROM_WORDS
          this.outWord = this.words[this.address]!
          this.outBit = 0
        }
        return
      case 'data':
        this.outWord = ((this.outWord << 1) | bit) & 0xffff
        if (++this.outBit === 16) this.program()
        return
      default:
        return
    }
  }

  private decode(): void {
    const address = this.shift & (EEPROM_WORDS - 1)
    this.opcode = (this.shift >>> EEPROM_ADDRESS_BITS) & 3
    this.address = address
    this.outWord = 0
    this.outBit = 0
    switch (this.opcode) {
      case OPCODE.READ:
        this.phase = 'read'
        this.outWord = this.words[address]!
        this.dataOut = 0 // the dummy bit
        return
      case OPCODE.WRITE:
        this.phase = 'data'
        return
      case OPCODE.ERASE:
        if (this.writesEnabled) this.words[address] = 0xffff
        this.phase = 'ready'
        return
      default: {
        const which = address >>> (EEPROM_ADDRESS_BITS - 2)
        if (which === EXTENDED.EWEN) this.writesEnabled = true
        else if (which === EXTENDED.EWDS) this.writesEnabled = false
        else if (which === EXTENDED.ERAL && this.writesEnabled) this.words.fill(0xffff)
        else if (which === EXTENDED.WRAL) {
          this.phase = 'data'
          return
        }
        this.phase = 'ready'
      }
    }
  }

  private program(): void {
    if (this.writesEnabled) {
      if (this.opcode === OPCODE.WRITE) this.words[this.address] = this.outWord
      else this.words.fill(this.outWord) // WRAL
    }
    this.phase = 'ready'
  }
}
