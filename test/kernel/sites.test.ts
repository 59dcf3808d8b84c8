import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { driverFrames } from '../../src/kernel/sites.js'

const root = path.resolve(fileURLToPath(new URL('../..', import.meta.url)))
const at = (file: string, line: number): string => `    at fn (${file}:${line}:7)`

describe('driver call sites', () => {
  it('skip dmalab itself, Node internals and dependencies; keep the driver', () => {
    const stack = ['Error', at(path.join(root, 'src/kernel/pool.ts'), 10), at('node:internal/modules/run_main', 1), at('/home/me/app/node_modules/lib/x.js', 5), at('/home/me/drivers/my-miniport.ts', 42)].join('\n')
    expect(driverFrames(stack)).toEqual(['/home/me/drivers/my-miniport.ts:42'])
  })

  it('name the bundled examples as drivers, relative to the package, even from compiled code', () => {
    const stack = ['Error', at(path.join(root, 'dist/src/kernel/pool.js'), 10), at(path.join(root, 'examples/e1000/memory.ts'), 48)].join('\n')
    expect(driverFrames(stack)).toEqual(['examples/e1000/memory.ts:48'])
  })

  it('accept file:// URLs as V8 prints them for ES modules', () => {
    const stack = ['Error', `    at fn (file://${path.join(root, 'examples/buggy/overrun.ts')}:12:3)`].join('\n')
    expect(driverFrames(stack)).toEqual(['examples/buggy/overrun.ts:12'])
  })
})
