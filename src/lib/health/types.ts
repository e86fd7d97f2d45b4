import type {LoadedConfig} from '../config/load.js'
import type {Kube} from '../kube/types.js'
import type {SshSession} from '../ssh/types.js'
import type {CheckName} from './names.js'
import type {Status} from './status.js'

/** What a check needs: the config, one shared Kubernetes connection, and the run's deadline. */
export interface HealthContext {
  loaded: LoadedConfig
  /** Connects on first use; every check shares the connection. */
  kube: () => Promise<Kube>
  /** `--deep`: checks may also look at the nodes over SSH (never prompting: unknown host keys are refused). */
  deep: boolean
  /** One SSH connection per node for the whole run, opened on first use (only with `deep`). */
  ssh: (node: string) => Promise<SshSession>
  /** The start of the run, so every check measures ages and expiry against the same instant. */
  now: Date
  /** Close what a check opened, after every check has finished or been given up on. */
  onClose: (fn: () => Promise<void> | void) => void
  /** Aborted at the deadline; pass it into every call. */
  signal: AbortSignal
  /** kp's state dir (the backups folder is under it). */
  stateDir: string
  warn: (line: string) => void
}

export interface Outcome {
  /** One line per node, pod, budget… worth reading after the reason (`-v`, JSON). */
  details?: string[]
  reason: string
  status: Status
  /** A certificate the check read, for its expiry metric. */
  certificate?: {name: string; notAfter: string}
  /** The newest verified etcd backup, for its age metric. */
  backup?: {ageSeconds: number; takenAt: string}
  /** The check's own Prometheus samples (gauges), printed as families after the common ones. */
  metrics?: Metric[]
}

/** One gauge sample; samples sharing a name form one family, whose `help` the first one gives. */
export interface Metric {
  help: string
  labels: Record<string, string>
  name: string
  value: number
}

export interface Check {
  name: CheckName
  /** One sentence: what is checked (README table, `kp health --help`). */
  description: string
  /** False when the config has nothing for the check to look at (no proxmox section). */
  applies?(loaded: LoadedConfig): boolean
  /** Runs only with --deep (it reads the nodes over SSH): left out without it, refused when named without it. */
  deepOnly?: boolean
  /** False to leave the check out of a run without --check (it still runs when named). */
  byDefault?(loaded: LoadedConfig, stateDir: string): boolean
  /**
   * Status when the check has no answer by the deadline. UNKNOWN unless silence is itself the
   * failure the check looks for (an API that does not answer is down).
   */
  onDeadline?: Status
  run(ctx: HealthContext): Promise<Outcome>
}

export interface CheckResult extends Outcome {
  details: string[]
  durationMs: number
  name: CheckName
}

/** The document `--output json` prints: stable field names, one entry per check run. */
export interface HealthReport {
  checks: CheckResult[]
  /** Cluster name from kp.yaml (empty when kp.yaml could not be read). */
  cluster: string
  durationMs: number
  /** Why no check could run (kp.yaml unreadable or invalid); then every check is UNKNOWN and `up` is false. */
  error?: {hint?: string; message: string}
  exitCode: number
  startedAt: string
  status: Status
  timeoutMs: number
  /** kp loaded its config and ran the checks (whatever they found). */
  up: boolean
}
