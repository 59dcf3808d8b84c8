// Compiling and linking a C driver with clang and wasm-ld built to WebAssembly (@yowasp/clang),
// run in this process: `npm ci` is the whole install, there is no native toolchain to find.
//
// The compiler sees a virtual file system holding exactly what the build may read: the driver's
// sources and the headers beside them and under its -I directories (mounted under /c, with
// -ffile-prefix-map restoring the real paths in the debug information and __FILE__), and the
// headers dmalab ships (/dmalab/include). What a build can read is therefore also exactly what
// its cache key hashes (cache.ts).
//
// The target is wasm32 with no libc (-ffreestanding -nostdlib): a kernel driver has no C
// runtime either. Bulk memory is off so that memcpy/memset stay calls (imports dmalab
// implements through the page tables) instead of memory.copy/fill instructions; the linker
// places the driver's data at the x86 machine's driver-image base, so its pointers are kernel
// virtual addresses; undefined symbols become imports (the WDK routines), resolved at load.

/** A file the compiler may read: its real path (absolute, POSIX separators) and bytes. */
export interface SourceFile {
  readonly path: string
  readonly bytes: Uint8Array
}

export interface CompileRequest {
  /** The .c files, in command-line order. */
  readonly sources: readonly SourceFile[]
  /** Headers the sources may include (beside them and under `includeDirs`). */
  readonly headers: readonly SourceFile[]
  /** dmalab's own headers, by name relative to include/ (`ndis.h`, `wdm.h`). */
  readonly systemHeaders: readonly SourceFile[]
  /** -I directories (real absolute paths). */
  readonly includeDirs: readonly string[]
  /** -D values: `NAME` or `NAME=VALUE`. */
  readonly defines: readonly string[]
  /** -O level: 0, 1, 2, 3, s, z. */
  readonly optimize: string
  /** Where the linker places the driver's data: the driver-image base of the x86 machine. */
  readonly imageBase: number
}

export interface CompileResult {
  readonly wasm: Uint8Array
  /** Clang's and wasm-ld's warnings (real paths), empty when there were none. */
  readonly diagnostics: string
}

/** The compiler or linker refused the driver: `diagnostics` is what it said. */
export class CompileError extends Error {
  readonly diagnostics: string
  constructor(diagnostics: string) {
    super(diagnostics.trim() === '' ? 'clang failed without a message' : diagnostics.trim())
    this.name = 'CompileError'
    this.diagnostics = diagnostics
  }
}

/** The toolchain's identity, part of every cache key: a new clang means new code. */
export const TOOLCHAIN_ID = 'yowasp-clang-22.0.0-git20542-10'

export const OPTIMIZE_LEVELS = ['0', '1', '2', '3', 's', 'z'] as const
export const DEFAULT_OPTIMIZE = '1'

const VFS_SOURCES = '/c'
const VFS_INCLUDE = '/dmalab/include'
const VFS_OUT = '/out'
const OUTPUT = 'driver.wasm'

/** The exports the loader needs: the entry, the stack pointer it points at a kernel stack, the data's end, the table. */
const LINK_FLAGS = [
  '--no-entry', '--allow-undefined', '--export-table', '--growable-table',
  '--export=DriverEntry', '--export=__stack_pointer', '--export=__data_end',
  // No stack in the image: the loader gives the driver a kernel stack in kernel memory.
  '-z', 'stack-size=0',
]

/** Flags every driver is compiled with (the dmalab target), before the user's -I/-D/-O. */
export function compileFlags(request: Pick<CompileRequest, 'includeDirs' | 'defines' | 'optimize' | 'imageBase'>): string[] {
  return [
    '--target=wasm32-unknown-unknown',
    '-ffreestanding', '-nostdlib', '-nostdlibinc', '-isystem', VFS_INCLUDE,
    // WDK sources use Microsoft extensions (anonymous unions in structures, __int64) and WCHAR
    // is 16 bits (L"..." literals must be too).
    '-fms-extensions', '-fshort-wchar',
    // Pool tags are multi-character literals ('tseT'), which C allows and clang warns about.
    '-Wno-multichar',
    '-mno-bulk-memory', '-mno-bulk-memory-opt', '-mno-simd128', '-mno-atomics',
    '-g', '-gdwarf-4', `-O${request.optimize}`,
    `-ffile-prefix-map=${VFS_SOURCES}/=/`,
    // The WDK's x86 build defines _X86_; DMALAB lets a driver tell where it runs.
    '-D_X86_=1', '-DDMALAB=1',
    ...request.includeDirs.map((d) => `-I${VFS_SOURCES}${d}`),
    ...request.defines.map((d) => `-D${d}`),
    ...LINK_FLAGS.map((f) => `-Wl,${f}`),
    `-Wl,--global-base=${request.imageBase}`,
  ]
}

interface Tree {
  [name: string]: Tree | Uint8Array
}

function put(tree: Tree, path: string, bytes: Uint8Array): void {
  const parts = path.split('/').filter((p) => p !== '')
  let dir = tree
  for (const p of parts.slice(0, -1)) {
    const next = dir[p]
    if (next instanceof Uint8Array) throw new CompileError(`${path}: a file and a directory of the same name`)
    dir = next ?? (dir[p] = {})
  }
  dir[parts[parts.length - 1]!] = bytes
}

type YowaspClang = typeof import('@yowasp/clang')
let toolchain: Promise<YowaspClang> | null = null

/** Loads the compiler once per process (its WebAssembly is large: the first compile pays for it). */
function loadToolchain(): Promise<YowaspClang> {
  toolchain ??= import('@yowasp/clang').then(async (mod) => {
    // Fetch the resources now, silently (runClang's first step would print progress).
    await mod.runLLVM(undefined, {}, { fetchProgress: () => {} })
    return mod
  })
  return toolchain
}

/** Compiles and links the driver; throws CompileError with clang's messages when it fails. */
export async function compileDriver(request: CompileRequest): Promise<CompileResult> {
  if (request.sources.length === 0) throw new CompileError('no C source files')
  const { commands } = await loadToolchain()
  const tree: Tree = { out: {} }
  for (const f of [...request.sources, ...request.headers]) put(tree, `${VFS_SOURCES}${f.path}`, f.bytes)
  for (const f of request.systemHeaders) put(tree, `${VFS_INCLUDE}/${f.path}`, f.bytes)
  let messages = ''
  const stderr = (bytes: Uint8Array | null): void => {
    if (bytes !== null) messages += new TextDecoder().decode(bytes)
  }
  const args = [...compileFlags(request), ...request.sources.map((s) => `${VFS_SOURCES}${s.path}`), '-o', `${VFS_OUT}/${OUTPUT}`]
  let files: unknown
  try {
    files = await commands.clang(args, tree as never, { stdout: stderr, stderr, fetchProgress: () => {} })
  } catch (error) {
    if ((error as { code?: unknown }).code !== undefined) throw new CompileError(realPaths(messages))
    throw error
  }
  const wasm = ((files as Tree).out as Tree | undefined)?.[OUTPUT]
  if (!(wasm instanceof Uint8Array)) throw new CompileError(realPaths(messages) || 'the linker wrote no output')
  return { wasm, diagnostics: realPaths(messages) }
}

/** Clang names files by their virtual paths; the user knows them by the real ones. */
function realPaths(text: string): string {
  return text.replace(/(^|[\s'"(])\/c\//gm, '$1/').replace(/(^|[\s'"(])\/dmalab\/include\//gm, '$1<dmalab>/')
}
