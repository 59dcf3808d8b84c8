import { describe, expect, it } from 'vitest'
import { FaultSpecError, parseFaultSpec, parseFaultSpecs } from '../../src/faults/spec.js'

describe('fault spec grammar', () => {
  it('parses every term', () => {
    expect(parseFaultSpec('routine=ExAllocatePool*,tag=Te?t,site=examples/*:42,phase=runtime,after=2,times=3,p=600,seed=9')).toMatchObject({
      routine: 'ExAllocatePool*', tag: 'Te?t', site: 'examples/*:42', phase: 'runtime', after: 2, times: 3, p: 600, seed: 9, partial: false,
    })
    expect(parseFaultSpec('routine=MmAllocatePagesForMdl,nth=1,partial')).toMatchObject({ nth: 1, partial: true })
    expect(parseFaultSpec(' every=10 ')).toMatchObject({ every: 10, after: 0 })
  })

  it('rejects malformed specs naming the term and what was expected', () => {
    const cases: Array<[string, string]> = [
      ['nth=abc', 'fault spec "nth=abc": nth takes a whole number'],
      ['nth=0', 'fault spec "nth=0": nth takes a whole number >= 1'],
      ['p=10001', 'fault spec "p=10001": p takes a whole number in 0..10000'],
      ['colour=red', 'fault spec "colour=red": unknown term "colour"'],
      ['phase=boot', 'fault spec "phase=boot": phase takes one of init, runtime, halt'],
      ['routine=ExAllocPool', 'fault spec "routine=ExAllocPool": no allocation routine matches "ExAllocPool"'],
      ['tag=Toolong', 'a tag is at most four characters'],
      ['nth=1,every=2', 'nth and every each choose which calls fail'],
      ['nth=1,nth=2', 'nth is given twice'],
      ['routine=', 'routine needs a value'],
      ['nth=1,,p=2', 'empty term'],
      ['partial=yes', 'partial takes no value'],
      ['seed=4', 'seed only matters with p='],
      ['', 'is empty'],
    ]
    for (const [spec, message] of cases) {
      expect(() => parseFaultSpec(spec)).toThrow(FaultSpecError)
      expect(() => parseFaultSpec(spec)).toThrow(message)
    }
  })

  it('a list is parsed in order and fails on the first bad spec', () => {
    expect(parseFaultSpecs(['nth=1', 'every=2'])).toHaveLength(2)
    expect(() => parseFaultSpecs(['nth=1', 'every=x'])).toThrow('fault spec "every=x"')
  })
})
