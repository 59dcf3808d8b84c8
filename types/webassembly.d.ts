// The part of the WebAssembly JavaScript API (WebAssembly JS Interface, W3C) that dmalab uses to
// run C drivers. Node provides it globally; TypeScript's lib only declares it with the DOM, which
// this project does not include.
declare namespace WebAssembly {
  type ImportValue = ((...args: never[]) => unknown) | Global | Table | Memory | number
  type Imports = Record<string, Record<string, ImportValue>>
  type ExportValue = ((...args: never[]) => unknown) | Global | Table | Memory
  interface ModuleImportDescriptor {
    readonly module: string
    readonly name: string
    readonly kind: 'function' | 'table' | 'memory' | 'global' | 'tag'
  }
  interface ModuleExportDescriptor {
    readonly name: string
    readonly kind: 'function' | 'table' | 'memory' | 'global' | 'tag'
  }
  class Module {
    constructor(bytes: Uint8Array)
    static imports(module: Module): ModuleImportDescriptor[]
    static exports(module: Module): ModuleExportDescriptor[]
    static customSections(module: Module, name: string): ArrayBuffer[]
  }
  class Instance {
    constructor(module: Module, imports?: Imports)
    readonly exports: Record<string, ExportValue>
  }
  class Global {
    constructor(descriptor: { value: 'i32' | 'i64' | 'f32' | 'f64'; mutable?: boolean }, value?: number | bigint)
    value: number | bigint
  }
  class Table {
    constructor(descriptor: { element: 'anyfunc' | 'funcref'; initial: number; maximum?: number })
    readonly length: number
    get(index: number): ((...args: never[]) => unknown) | null
    set(index: number, value: ((...args: never[]) => unknown) | null): void
    grow(delta: number): number
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number })
    readonly buffer: ArrayBuffer
  }
  class CompileError extends Error {}
  class LinkError extends Error {}
  class RuntimeError extends Error {}
}
