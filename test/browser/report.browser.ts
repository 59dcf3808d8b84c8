// `npm run test:browser`: the HTML reports opened in a real browser, headless Chromium (Debian's
// `chromium` package, driven with playwright-core; nothing downloads a browser). Fails on any
// console error or page error, on any request that is not the file itself, when the memory map
// is not drawn where its scale says, or when hovering a buffer does not name its allocating
// call and source line. Writes screenshots: docs/images/memory-map.png is the one README shows
// (`dmalab run e1000 --packets 200`), the others go to test-results/browser/.
// Without Chromium it says so and skips; `npm test` never needs it.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BrowserContext, Page } from 'playwright-core'
import { loadMiniport, runScenario, type ScenarioOptions } from '../../src/scenario.js'
import { attachRecorder, type Recorder } from '../../src/report/recorder.js'
import { runHtml } from '../../src/report/html/run.js'
import { sweepHtml } from '../../src/report/html/sweep.js'
import { sweepJson } from '../../src/report/sweep-json.js'
import { sweep } from '../../src/sweep.js'
import type { MachineConfig } from '../../src/config.js'

const CHROMIUM = process.env['DMALAB_CHROMIUM'] ?? '/usr/bin/chromium'
const root = fileURLToPath(new URL('../..', import.meta.url))
const shots = path.join(root, 'test-results', 'browser')
const installed = existsSync(CHROMIUM)
if (!installed) {
  process.stdout.write(`\nno Chromium at ${CHROMIUM}: skipping the browser check of the HTML report.\nInstall it with: apt-get install chromium (or set DMALAB_CHROMIUM to a Chromium binary)\n\n`)
}

/** The flags the issue names: no sandbox (containers), no GPU, nothing phoning home. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

async function runReport(name: string, config: MachineConfig, scenario: ScenarioOptions): Promise<string> {
  const mp = await loadMiniport(name)
  let recorder: Recorder | undefined
  const { report } = runScenario(mp, config, scenario, { onMachine: (m) => (recorder = attachRecorder(m)) })
  return runHtml(recorder!.finish(report))
}

describe.skipIf(!installed)('HTML report in headless Chromium', () => {
  let context: BrowserContext
  let dir: string
  const problems: string[] = []

  beforeAll(async () => {
    const { chromium } = await import('playwright-core')
    dir = mkdtempSync(path.join(tmpdir(), 'dmalab-browser-'))
    // A fresh profile each time (--user-data-dir), as the flags above ask.
    context = await chromium.launchPersistentContext(path.join(dir, 'profile'), { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1100, height: 900 } })
    await context.route('**/*', (route) => {
      const url = route.request().url()
      if (url.startsWith('file:') || url.startsWith('data:')) return route.continue()
      problems.push(`request to ${url}`)
      return route.abort()
    })
    mkdirSync(shots, { recursive: true })
  })

  afterAll(async () => {
    await context?.close()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  async function open(html: string, file: string): Promise<Page> {
    const at = path.join(dir, file)
    writeFileSync(at, html)
    const page = await context.newPage()
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error in ${file}: ${m.text()}`)
    })
    page.on('pageerror', (e) => problems.push(`page error in ${file}: ${e.message}`))
    await page.goto(pathToFileURL(at).href)
    return page
  }

  it('run e1000: the map is drawn to scale, hovering a buffer names its allocating call and line', async () => {
    // The README's picture: `dmalab run e1000 --packets 200` (IOMMU off, high-first memory).
    const page = await open(await runReport('e1000', {}, { packets: 200, size: 1500, rx: 0 }), 'run.html')
    const map = page.locator('svg#map')
    const box = (await map.boundingBox())!
    expect(box.width).toBeGreaterThan(600)
    // The 4 GiB line sits where the map's own scale puts 4 GiB.
    const scaleTop = Number(await map.getAttribute('data-scale-top'))
    const line = (await page.locator('svg#map line.line4g').boundingBox())!
    expect(line.x + line.width / 2 - box.x).toBeCloseTo(((10 + (4 * 2 ** 30 * 980) / scaleTop) / 1000) * box.width, 0)

    // Hover the 512 KiB shared-memory block in its zoomed strip: the tooltip names the call and line.
    const block = page.locator('svg#map rect.shared-memory').last()
    await block.hover()
    const tip = page.locator('#tip')
    await expect.poll(async () => tip.isVisible()).toBe(true)
    const text = (await tip.textContent()) ?? ''
    expect(text).toContain('NdisMAllocateSharedMemory 512 KiB')
    expect(text).toMatch(/allocated at examples\/e1000\/memory\.ts:\d+/)
    // README's picture: the map with this tooltip showing.
    const section = (await page.locator('section#memory-map').boundingBox())!
    const mapBox = (await map.boundingBox())!
    await page.screenshot({ path: path.join(root, 'docs', 'images', 'memory-map.png'), clip: { x: 0, y: section.y, width: 1100, height: mapBox.y + mapBox.height + 70 - section.y } })

    // Clicking selects it and opens its row in the table of buffers.
    await block.click()
    const ref = await block.getAttribute('data-ref')
    await expect.poll(async () => page.locator(`tr#${ref}`).isVisible()).toBe(true)
    expect(await page.locator(`tr#${ref}`).getAttribute('class')).toContain('selected')

    await page.screenshot({ path: path.join(shots, 'run-e1000-selected.png'), fullPage: false })
    await page.mouse.move(0, 0)
    await expect.poll(async () => tip.isVisible()).toBe(false)
    expect(problems).toEqual([])
  })

  it('IOMMU on and a buggy driver: IOVA lines and fault markers drawn, no errors', async () => {
    const iommu = await open(await runReport('e1000', { iommu: true }, { packets: 100, size: 1500, rx: 0 }), 'iommu.html')
    expect(await iommu.locator('svg#map path.link').count()).toBeGreaterThan(100)
    await iommu.screenshot({ path: path.join(shots, 'run-e1000-iommu.png'), fullPage: false })
    const buggy = await open(await runReport('buggy/pool-dma-above-4g', {}, { packets: 20, size: 1500, rx: 0 }), 'buggy.html')
    expect(await buggy.locator('svg#map path.fault').count()).toBeGreaterThan(0)
    // Markers of neighbouring faults overlap: hover where the first one is, whichever is on top.
    await buggy.locator('svg#map path.fault').first().hover({ force: true })
    await expect.poll(async () => (await buggy.locator('#tip').textContent()) ?? '').toMatch(/^dma-address-truncated: device read at 0x2_/)
    await buggy.screenshot({ path: path.join(shots, 'run-pool-dma-above-4g.png'), fullPage: false })
    expect(problems).toEqual([])
  })

  it('sweep: clicking a cell shows its run and replay spec', async () => {
    const mp = await loadMiniport('buggy/leak-on-halt')
    const s = sweepJson(await sweep(mp, { config: {}, scenario: { packets: 2, size: 200, rx: 0 }, jobs: 1, mode: 'stack' }))
    const page = await open(sweepHtml(s), 'sweep.html')
    const leak = s.runs.findIndex((r) => r.outcome === 'leak')
    await page.locator(`.cells button[data-ref="run-${leak}"]`).click()
    await expect.poll(async () => (await page.locator('.detail').textContent()) ?? '').toContain(`replay: --fail ${s.runs[leak]!.replay}`)
    await page.screenshot({ path: path.join(shots, 'sweep.png'), fullPage: false })
    expect(problems).toEqual([])
  })
})
