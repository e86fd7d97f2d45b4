/**
 * What a node says about its packages, as kp node patch reads it: the report of
 * playbooks/node-patch/pending.sh (the reboot-required files, the held packages, the Kubernetes
 * packages' versions, whether dpkg was left half-way) followed by `apt-get -s upgrade|dist-upgrade`,
 * whose lines apt documents as stable for scripts (`Inst`, `Remv`, `Conf`). Pure functions, so
 * every verdict is unit-tested.
 */

/** The packages kubeadm upgrades, one minor at a time: kp node patch never lets apt move them. */
export const KUBERNETES_PACKAGES = ['kubeadm', 'kubelet', 'kubectl', 'cri-tools', 'kubernetes-cni'] as const

export interface PackageChange {
  name: string
  /** The installed version; undefined for a new package. */
  from?: string
  to: string
}

export interface Simulation {
  /** Upgraded or newly installed (`Inst`). */
  changes: PackageChange[]
  /** `Remv` lines: packages apt would remove. */
  removed: string[]
  /** "The following held packages will be changed:" (dist-upgrade can do that). */
  heldChanged: string[]
  /** "The following packages have been kept back:": held, or waiting for a dist-upgrade. */
  keptBack: string[]
}

export interface NodePackages {
  bootId: string
  /** /var/run/reboot-required exists. */
  rebootRequired: boolean
  /** /var/run/reboot-required.pkgs: the packages that asked for it. */
  rebootPackages: string[]
  /** `apt-mark showhold`. */
  held: string[]
  /** The installed Kubernetes packages and their versions. */
  kubernetes: Record<string, string>
  /** dpkg was interrupted (a killed run): `dpkg --configure -a` comes first. */
  dpkgInterrupted: boolean
  simulation: Simulation
  /** apt-get -s's exit code, and its error lines when it failed. */
  simulateExit: number
  simulateErrors: string[]
}

const INST = /^Inst (\S+) (?:\[([^\]]+)\] )?\((\S+)/
const REMV = /^Remv (\S+)/

/** `apt-get -s upgrade|dist-upgrade` output. */
export function parseSimulation(text: string): Simulation {
  const sim: Simulation = {changes: [], heldChanged: [], keptBack: [], removed: []}
  let section: string[] | undefined
  for (const line of text.split('\n')) {
    const inst = INST.exec(line)
    if (inst) {
      sim.changes.push({name: inst[1]!, to: inst[3]!, ...(inst[2] === undefined ? {} : {from: inst[2]})})
      section = undefined
      continue
    }

    const remv = REMV.exec(line)
    if (remv) {
      sim.removed.push(remv[1]!)
      section = undefined
      continue
    }

    if (/^The following held packages will be changed:/.test(line)) section = sim.heldChanged
    else if (/^The following packages have been kept back:/.test(line)) section = sim.keptBack
    else if (/^\S/.test(line)) section = undefined
    else if (section && line.trim() !== '') section.push(...line.trim().split(/\s+/))
  }

  return sim
}

/** pending.sh's report: `key=value` lines, then `--- apt-get -s` and apt's own output. */
export function parseNodePackages(text: string): NodePackages {
  const [head = '', simulated = ''] = text.split(/^--- apt-get -s$/m)
  const fields = new Map<string, string[]>()
  for (const line of head.split('\n')) {
    const eq = line.indexOf('=')
    if (eq <= 0) continue
    const key = line.slice(0, eq).trim()
    fields.set(key, [...(fields.get(key) ?? []), line.slice(eq + 1).trim()])
  }

  const one = (key: string): string => fields.get(key)?.[0] ?? ''
  const words = (key: string): string[] => (fields.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean)
  if (!fields.has('boot-id')) throw new Error(`not a pending.sh report: ${JSON.stringify(text.slice(0, 120))}`)
  const kubernetes: Record<string, string> = {}
  for (const entry of words('kube')) {
    const [name, version] = entry.split('=')
    if (name && version) kubernetes[name] = version
  }

  const simulateExit = Number(one('simulate-exit') || '0')
  return {
    bootId: one('boot-id'),
    dpkgInterrupted: one('dpkg-interrupted') === '1',
    held: words('held'),
    kubernetes,
    rebootPackages: words('reboot-pkgs'),
    rebootRequired: one('reboot-required') === '1',
    simulateErrors: simulateExit === 0 ? [] : simulated.split('\n').filter((l) => /^(E|W):/.test(l)),
    simulateExit,
    simulation: parseSimulation(simulated),
  }
}

/** The Kubernetes packages apt would upgrade, install, remove or change though held. */
export function kubernetesTouched(sim: Simulation): string[] {
  const names = new Set([...sim.changes.map((c) => c.name), ...sim.removed, ...sim.heldChanged])
  return KUBERNETES_PACKAGES.filter((p) => names.has(p))
}

export const pendingCount = (sim: Simulation): number => sim.changes.length + sim.removed.length

/** One line per package: "libssl3 3.0.11-1 → 3.0.11-2", "new linux-image-6.1 6.1.1", "remove foo". */
export function describeChanges(sim: Simulation): string[] {
  return [
    ...sim.changes.map((c) => (c.from === undefined ? `install ${c.name} ${c.to}` : `upgrade ${c.name} ${c.from} → ${c.to}`)),
    ...sim.removed.map((name) => `remove ${name}`),
  ]
}

export type RebootPolicy = 'always' | 'if-required' | 'never'

/**
 * Whether the node is rebooted after its packages: `if-required` when the OS asks for it
 * (/var/run/reboot-required, written by the upgrade itself or still there from an earlier one),
 * `always` whenever kp upgraded something on it, `never` never.
 */
export function wantsReboot(policy: RebootPolicy, rebootRequired: boolean, upgraded: boolean): boolean {
  if (policy === 'never') return false
  if (policy === 'always') return upgraded || rebootRequired
  return rebootRequired
}

/** The Kubernetes packages whose version or hold differs after the upgrade, described. */
export function kubernetesDrift(before: Pick<NodePackages, 'held' | 'kubernetes'>, after: Pick<NodePackages, 'held' | 'kubernetes'>): string[] {
  const out: string[] = []
  for (const name of KUBERNETES_PACKAGES) {
    const was = before.kubernetes[name]
    const now = after.kubernetes[name]
    if (was !== now) out.push(`${name} ${was ?? 'not installed'} → ${now ?? 'not installed'}`)
    if (before.held.includes(name) && !after.held.includes(name)) out.push(`${name} is no longer held`)
  }

  return out
}
