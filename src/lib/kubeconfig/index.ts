/** `kp kubeconfig [--merge]`: where the admin kubeconfig is, and merging it into the user's own. */
import {ConfigError, KpError} from '../errors.js'
import {NotAKubeconfigError} from './document.js'
import {describeFsError, followLink, kubectlReadsByDefault, readUserKubeconfig, withKubeconfigLock, writeKubeconfigAtomic} from './file.js'
import {kpNames, mergeKubeconfig} from './merge.js'
import {type AdminSource, readAdminKubeconfig} from './source.js'

export {userKubeconfigPath} from './file.js'
export {kpNames} from './merge.js'

export interface KubeconfigResult {
  cluster: string
  /** The context to use in `path`. */
  context: string
  /** The command to try. */
  kubectl: string
  merged: boolean
  /** The kubeconfig file that holds `context`: the admin kubeconfig, or the one merged into. */
  path: string
  /** The server of the admin kubeconfig. */
  server?: string
  /** The admin kubeconfig (equal to path unless merged). */
  source: string
  /** With --merge: whether the file changed (with --dry-run: would change; nothing is written). */
  changed?: boolean
  /** With --merge: the file's current context afterwards, and before when it was another. */
  currentContext?: string
  previousContext?: string
  /** With --merge: entries of kp's names were there and were replaced. */
  replaced?: boolean
}

export async function showAdminKubeconfig(source: AdminSource): Promise<KubeconfigResult> {
  const admin = await readAdminKubeconfig(source)
  return {cluster: source.cluster, context: admin.context, kubectl: `kubectl --kubeconfig ${quote(admin.file)} get nodes`, merged: false, path: admin.file, ...(admin.server ? {server: admin.server} : {}), source: admin.file}
}

export interface MergeAdminOptions {
  dryRun?: boolean
  env?: NodeJS.ProcessEnv
  /** The user's kubeconfig to merge into (see userKubeconfigPath). */
  target: string
  useContext?: boolean
}

export async function mergeAdminKubeconfig(source: AdminSource, options: MergeAdminOptions): Promise<KubeconfigResult> {
  const admin = await readAdminKubeconfig(source)
  const names = kpNames(source.cluster)
  const real = await followLink(options.target)
  const merge = async () => {
    const text = await readUserKubeconfig(real)
    try {
      return mergeKubeconfig(text, names, admin, {useContext: options.useContext})
    } catch (error) {
      if (!(error instanceof NotAKubeconfigError)) throw error
      throw new ConfigError(`${options.target} is not a kubeconfig: ${error.message}; kp left it untouched`, {hint: 'Fix or move that file, or merge into another one with --kubeconfig FILE.'})
    }
  }

  // A dry run only reads: no lock file, no folder created.
  const outcome = options.dryRun
    ? await merge()
    : await withKubeconfigLock(real, async () => {
        const merged = await merge()
        if (merged.changed) await writeKubeconfigAtomic(real, merged.text)
        return merged
      }).catch((error: NodeJS.ErrnoException) => {
        if (error instanceof KpError || !error.code) throw error
        throw new ConfigError(`cannot write ${options.target}: ${describeFsError(error)}`, {hint: 'Merge into another file with --kubeconfig FILE.'})
      })
  const byDefault = kubectlReadsByDefault(options.target, options.env)
  return {
    changed: outcome.changed,
    cluster: source.cluster,
    context: names.context,
    currentContext: outcome.currentContext,
    kubectl: `kubectl ${byDefault ? '' : `--kubeconfig ${quote(options.target)} `}--context ${names.context} get nodes`,
    merged: true,
    path: options.target,
    ...(outcome.previousContext && outcome.previousContext !== outcome.currentContext ? {previousContext: outcome.previousContext} : {}),
    replaced: outcome.replaced,
    ...(admin.server ? {server: admin.server} : {}),
    source: admin.file,
  }
}

/** What `kp kubeconfig` prints. */
export function formatKubeconfigResult(r: KubeconfigResult, options: {dryRun?: boolean} = {}): string {
  if (!r.merged) {
    return [
      `Admin kubeconfig of cluster "${r.cluster}": ${r.path}${r.server ? ` (API server ${r.server})` : ''}`,
      'It holds cluster-admin credentials: keep it private (mode 0600).',
      `Use it:          export KUBECONFIG=${quote(r.path)}`,
      `or per command:  ${r.kubectl}`,
      `or merge it into your kubeconfig as context ${kpNames(r.cluster).context}:  kp kubeconfig --merge`,
    ].join('\n')
  }

  const what = options.dryRun
    ? `Dry run: ${r.changed ? `would merge into ${r.path} as context ${r.context}` : `${r.path} already has context ${r.context} as it would be`}; nothing written.`
    : r.changed
      ? `Merged into ${r.path} as context ${r.context}${r.replaced ? ' (replacing the earlier entries of that name)' : ''}, mode 0600.`
      : `${r.path} already has context ${r.context} up to date; nothing changed.`
  const current = r.currentContext === r.context ? `Current context: ${r.context}.` : `Current context stays ${r.currentContext}; switch with kubectl config use-context ${r.context} (or merge with --use-context).`
  return [what, current, `Try: ${r.kubectl}`].join('\n')
}

/** Single-quote a path for the shell when it needs it. */
function quote(p: string): string {
  return /^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replaceAll("'", `'\\''`)}'`
}
