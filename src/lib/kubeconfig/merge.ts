/**
 * Merging a cluster's admin credentials into a user's kubeconfig, as text in and text out: cluster
 * `kp-<cluster>`, user `kp-<cluster>-admin`, context `kp-<cluster>` joining them. The names carry
 * the "kp-" prefix so they never collide with kubeadm's generic `kubernetes`/`kubernetes-admin`,
 * which every kubeadm cluster's admin.conf uses.
 */
import {currentContextOf, parseKubeconfig, TO_STRING, upsertNamed} from './document.js'

export interface KpNames {
  cluster: string
  context: string
  user: string
}

export function kpNames(cluster: string): KpNames {
  return {cluster: `kp-${cluster}`, context: `kp-${cluster}`, user: `kp-${cluster}-admin`}
}

/** What kp takes from the admin kubeconfig: the `cluster` and `user` objects of its context. */
export interface AdminEntries {
  cluster: Record<string, unknown>
  namespace?: string
  user: Record<string, unknown>
}

export interface MergeOptions {
  /** Make the kp context the current one even when the file has another. */
  useContext?: boolean
}

export interface MergeOutcome {
  /** Whether the text differs from what was there. */
  changed: boolean
  /** The current context afterwards. */
  currentContext: string
  /** The current context before, when there was one. */
  previousContext?: string
  /** An entry of one of kp's names was there and differed (a stale cluster, say). */
  replaced: boolean
  text: string
}

/** Throws NotAKubeconfigError, leaving the decision what to tell the user to the caller. */
export function mergeKubeconfig(existing: string | undefined, names: KpNames, admin: AdminEntries, options: MergeOptions = {}): MergeOutcome {
  const doc = parseKubeconfig(existing ?? '')
  let touched = existing === undefined
  // kubectl accepts a file without them, but a file kp writes says what it is.
  for (const [key, value] of [['apiVersion', 'v1'], ['kind', 'Config']] as const) {
    if (!doc.has(key)) {
      doc.set(key, value)
      touched = true
    }
  }

  const context = {cluster: names.cluster, ...(admin.namespace ? {namespace: admin.namespace} : {}), user: names.user}
  const outcomes = [
    upsertNamed(doc, 'clusters', {cluster: admin.cluster, name: names.cluster}),
    upsertNamed(doc, 'users', {name: names.user, user: admin.user}),
    upsertNamed(doc, 'contexts', {context, name: names.context}),
  ]
  const previousContext = currentContextOf(doc)
  if (previousContext !== names.context && (options.useContext || previousContext === undefined)) {
    doc.set('current-context', names.context)
    touched = true
  }

  touched ||= outcomes.some((o) => o !== 'unchanged')
  return {
    // Untouched, the file is left byte for byte (no reformatting by a round trip through YAML).
    changed: touched,
    currentContext: currentContextOf(doc) ?? names.context,
    ...(previousContext ? {previousContext} : {}),
    replaced: outcomes.includes('replaced'),
    text: touched ? doc.toString(TO_STRING) : existing!,
  }
}
