import {homedir} from 'node:os'
import path from 'node:path'

/** `--state-dir`, then `$KP_STATE_DIR`, then the XDG state directory. */
export function resolveStateDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return path.resolve(flag)
  if (env.KP_STATE_DIR) return path.resolve(env.KP_STATE_DIR)
  const xdg = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(homedir(), '.local', 'state')
  return path.join(xdg, 'kp')
}

/** `-c/--config`, then `$KP_CONFIG`, then `./kp.yaml`. */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag ?? env.KP_CONFIG ?? 'kp.yaml')
}

export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(homedir(), p.slice(1)) : p
}
