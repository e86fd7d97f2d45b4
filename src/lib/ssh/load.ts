/** ssh2 is loaded on first use only, so `kp --help` and commands without SSH never pay for it. */
import type * as Ssh2Module from 'ssh2'

export type Ssh2 = typeof Ssh2Module

let loaded: Promise<Ssh2> | undefined

export function loadSsh2(): Promise<Ssh2> {
  // ssh2 is CommonJS; its `utils` is only reachable through the default export.
  loaded ??= import('ssh2').then((m) => (m as unknown as {default: Ssh2}).default)
  return loaded
}
