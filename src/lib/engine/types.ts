/**
 * The step contract: small, with optional capabilities (k0sctl's phases require only a title and a
 * run). A workflow is a literal, ordered list of steps that reads like its runbook.
 */
import type {LoadedConfig} from '../config/load.js'
import type {Kube} from '../kube/types.js'
import type {Pve} from '../proxmox/types.js'
import type {SshSession} from '../ssh/types.js'

export type Params = Record<string, unknown>

/**
 * What every step of a run sees. `facts` is filled by the read-only steps that come first and
 * holds data only; connections belong to the run: opened on first use, closed when it ends.
 */
export interface RunContext<F = Record<string, unknown>, P extends Params = Params> {
  /** The cluster's kp.yaml, loaded and checked (with secrets when the workflow asks for them). */
  readonly config: LoadedConfig
  readonly dryRun: boolean
  facts: F
  /** The cluster's API through its admin kubeconfig; one connection per run. */
  kube(): Promise<Kube>
  /** A line for the run log (and the verbose renderer). Secrets are redacted on the way out. */
  log(message: string): void
  /**
   * A value made once per run and kept in memory only, never journaled (bootstrap's join secrets,
   * what a check answered for the plan to reuse). A rejected promise is forgotten, so the next
   * caller tries again.
   */
  memo<T>(key: string, make: () => T): T
  readonly params: P
  /** The Proxmox API (the workflow must ask for `secrets`); one connection per run. */
  pve(): Promise<Pve>
  /** Aborted on Ctrl-C/SIGTERM: pass it into SSH sessions and child processes. */
  readonly signal: AbortSignal
  /**
   * The SSH session to a node of kp.yaml; one connection per node per run. It never prompts (the
   * task list owns the terminal): an unknown host key is refused unless the operator accepted new
   * keys for this very run (--accept-new-host-keys, never replayed by a resume).
   */
  ssh(node: string): Promise<SshSession>
  /**
   * The run's id, the same across its resumes ('dry-run' in a dry run): names what a run leaves on a
   * node between two steps (etcd-backup's snapshot), so a resume finds it again.
   */
  readonly runId: string
  /** kp's state dir: journals, locks, and the default known_hosts. */
  readonly stateDir: string
}

/** What one unit of work — a step on one target — sees. */
export interface UnitContext<F = Record<string, unknown>, P extends Params = Params> extends RunContext<F, P> {
  /** Say that the unit changed something the mutate choke point did not see (e.g. a playbook said so). */
  markChanged(changed?: boolean): void
  /**
   * The one place a mutation happens: in a dry run the description is recorded and `fn` is not
   * called (k0sctl's `Wet`). Returns undefined in a dry run.
   */
  mutate<T>(description: string, fn: () => Promise<T> | T): Promise<T | undefined>
  /**
   * The state recorded by the first attempt of this unit before it changed anything (kured's
   * "was the node already cordoned?"), so a resumed or failed run knows what to restore.
   */
  readonly preState: Record<string, unknown> | undefined
  /**
   * The pre-state another unit of this run recorded (its step id; the target defaults to this unit's):
   * a rolling group's uncordon asks the drain whether the node was schedulable before.
   */
  preStateOf(stepId: string, target?: string): Record<string, unknown> | undefined
  /** Record pre-state before the first change; kept from the first attempt, journaled at once. */
  recordPreState(state: Record<string, unknown>): void
  /** Undefined for a step without targets. */
  readonly target: string | undefined
}

export interface Step<F = Record<string, unknown>, P extends Params = Params> {
  /** Is the work already done? true or a reason string skips the unit; re-runs converge. */
  check?(ctx: UnitContext<F, P>): Promise<boolean | string> | boolean | string
  /** Parallel units within the step; 1 (the default) runs targets one at a time. */
  concurrency?: number
  /** The step changes something that cannot simply be re-done (delete, reboot, reset). */
  destructive?: boolean
  /** A read-only step that fills `facts`: it runs every time, also in dry runs and on resume. */
  gathersFacts?: boolean
  /**
   * Consecutive `rolling` steps form one rolling group (kured's and kubeadm's node by node): the
   * group's targets come from its first step, and each target goes through every step of the group
   * before the next target starts. A failure stops the run there, so no later target is touched. On
   * resume a target whose units are all finished is passed over whole (its fact-gathering steps
   * too); the others start again with the group's fact-gathering steps.
   */
  rolling?: boolean
  /** Stable kebab-case id; journals refer to it. */
  id: string
  /** What the unit would change, for --dry-run and confirmation; without it, run() is rehearsed through mutate. */
  plan?(ctx: UnitContext<F, P>): Promise<string[]> | string[]
  run(ctx: UnitContext<F, P>): Promise<void> | void
  /** Fan out over these targets (node names). */
  targets?(ctx: RunContext<F, P>): Promise<string[]> | string[]
  /** Imperative, sentence case; equal to its runbook heading. */
  title: string
}

export interface Workflow<F = Record<string, unknown>, P extends Params = Params> {
  /**
   * A question to ask before the run (and again before a resume) because of what these parameters
   * would do, e.g. a drain that bypasses PodDisruptionBudgets; undefined when there is none.
   */
  confirm?(params: P): string | undefined
  /** Ask for confirmation even when no single step is destructive. */
  destructive?: boolean
  /** Resolve the config's secrets (the Proxmox token) before the run; they are redacted everywhere. */
  secrets?: boolean
  /** A fresh facts object for a run. */
  initialFacts(): F
  /** Also names its runbook: runbooks/<name>.md. */
  name: string
  /** Where <name>.md is, for workflows from outside kp (KP_EXTRA_WORKFLOWS); kp's own are in runbooks/. */
  runbookDir?: string
  steps: Array<Step<F, P>>
  title: string
}

// Workflows are stored heterogeneously; their steps only meet their own context.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyWorkflow = Workflow<any, any>
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStep = Step<any, any>

export function isDestructive(workflow: AnyWorkflow): boolean {
  return Boolean(workflow.destructive) || workflow.steps.some((s) => s.destructive)
}

/** The rolling group that starts at index i (empty when that step does not roll). */
export function rollingGroup(steps: AnyStep[], i: number): AnyStep[] {
  let end = i
  while (end < steps.length && steps[end]!.rolling) end += 1
  return steps.slice(i, end)
}

/** What a command hands the engine: the workflow itself, or how to load it (so the engine never imports the registry). */
export type WorkflowSource = AnyWorkflow | (() => Promise<AnyWorkflow>)
