// The device's Internet checksum (RFC 1071, manual 3.6: "the 16 bit one's complement of the
// one's complement sum of all 16-bit words in the range") against a plain word-at-a-time sum,
// over every alignment of buffer, start and end: the fast path reads 32-bit words.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { onesSum } from '../../src/hw/checksum.js'
import { sum16 } from '../support/packets.js'

describe('the one\'s complement sum', () => {
  it('equals a word-at-a-time sum whatever the alignment of the buffer, the start and the end', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.nat(7), fc.nat(), fc.nat(), fc.nat(0x2ffff), (bytes, shift, a, b, initial) => {
        const backing = new Uint8Array(bytes.length + 8)
        const buf = backing.subarray(shift, shift + bytes.length)
        buf.set(bytes)
        const start = a % bytes.length
        const end = start + (b % (bytes.length - start + 1))
        const expected = sum16(buf, start, end, initial)
        const got = onesSum(buf, start, end, initial)
        // 0 and 0xFFFF are the two zeros of one's complement; only an all-zero sum is +0.
        expect(got === expected || (got === 0xffff && expected === 0) || (got === 0 && expected === 0xffff)).toBe(true)
      }),
      { numRuns: 2000 },
    )
  })
})
