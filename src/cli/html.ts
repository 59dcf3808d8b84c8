// Writing the --html report: built only when asked for, written whole; a file that cannot be
// written is a one-line usage error (exit 2) naming it.
import { writeFileSync } from 'node:fs'
import { UsageError } from './args.js'

export function writeHtml(file: string | undefined, build: () => string): void {
  if (file === undefined) return
  const html = build()
  try {
    writeFileSync(file, html)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new UsageError(`cannot write the HTML report to ${file}${code === undefined ? '' : ` (${code})`}`)
  }
}
