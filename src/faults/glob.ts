// Globs over WDK routine names, pool tags and call sites: `*` any run of characters, `?` one
// character, everything else literal and case-sensitive (WDK names and tags are exact).

export function globToRegExp(glob: string): RegExp {
  let re = '^'
  for (const ch of glob) {
    if (ch === '*') re += '.*'
    else if (ch === '?') re += '.'
    else re += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')
  }
  return new RegExp(`${re}$`, 's')
}

export const hasWildcard = (glob: string): boolean => glob.includes('*') || glob.includes('?')
