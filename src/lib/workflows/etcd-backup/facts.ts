/**
 * Gather facts: every control plane of kp.yaml, which etcd member runs on it and how it is, as
 * etcdctl sees it from that node (through crictl, src/lib/etcd/etcdctl.ts) and as the API sees it
 * (the etcd-<node> mirror pod); then the member the snapshot comes from. The API is asked only
 * when it answers: a backup is most needed when the cluster is in trouble.
 */
import path from 'node:path'

import type {NodeConfig} from '../../config/schema.js'
import type {RunContext, Step} from '../../engine/types.js'
import {errorMessage, StepFailedError, UsageError} from '../../errors.js'
import {backupsDir, type BackupEntry, listBackups} from '../../etcd/backups.js'
import {ETCD_DATA_DIR, etcdctlError, runEtcdctl} from '../../etcd/etcdctl.js'
import {parseEndpointHealth, parseEndpointStatus, parseMemberList} from '../../etcd/parse.js'
import {SshConnectError, SshConnectionLostError, SshTimeoutError} from '../../ssh/errors.js'

export interface BackupParams extends Record<string, unknown> {
  /** A duration of `--keep`, or config backup.keep. */
  keep?: number | string
  /** Take the snapshot from this control plane only. */
  node?: string
  /** Absolute folder to write to instead of the state dir's backups folder. */
  output?: string
}

export type MemberStateName = 'healthy' | 'unhealthy' | 'not running' | 'unreachable' | 'cordoned'

export interface MemberFacts {
  node: string
  state: MemberStateName
  /** Why it is not healthy, or what the API thinks when it disagrees with etcdctl. */
  detail: string
  memberId?: string
  memberName?: string
  version?: string
  leader?: boolean
  revision?: number
  /** The API's view: its etcd-<node> pod Ready (undefined when the API did not answer). */
  apiReady?: boolean
  /** This run's snapshot is already on the node (an earlier attempt saved it). */
  saved?: boolean
}

export interface BackupFacts {
  members: MemberFacts[]
  /** The control plane the snapshot comes from. */
  chosen?: string
  dir: string
  keep: number
  kubernetesVersion: string
  /** This run's backup, when it is already complete on the laptop (file and sidecar). */
  done?: BackupEntry
}

export type BackupContext = RunContext<BackupFacts, BackupParams>

export const initialFacts = (): BackupFacts => ({dir: '', keep: 10, kubernetesVersion: '', members: []})

/** Where etcdctl writes this run's snapshot on the node: inside etcd's own data mount, same path on the host. */
export const remoteSnapshot = (ctx: Pick<BackupContext, 'runId'>): string => `${ETCD_DATA_DIR}/kp-backup-${ctx.runId}.db`

export function chosenNode(ctx: BackupContext): string {
  if (!ctx.facts.chosen) throw new Error('no member chosen (the gather step did not run)')
  return ctx.facts.chosen
}

export const onChosen = (ctx: BackupContext): string[] => [chosenNode(ctx)]

const QUICK = ['--dial-timeout=3s', '--command-timeout=5s']

/** How the member on one control plane is, from etcdctl run there. */
async function probe(ctx: BackupContext, node: NodeConfig): Promise<MemberFacts> {
  let session
  try {
    session = await ctx.ssh(node.name)
  } catch (error) {
    // A node that does not answer is a member's state; an unknown host key or refused key is the operator's to fix.
    if (!(error instanceof SshConnectError || error instanceof SshTimeoutError || error instanceof SshConnectionLostError)) throw error
    return {detail: `kp cannot log in over SSH: ${errorMessage(error).split('\n')[0]!}`, node: node.name, state: 'unreachable'}
  }

  const options = {idempotent: true, signal: ctx.signal, timeoutMs: 30_000}
  const [status, health, members, saved] = await Promise.all([
    runEtcdctl(session, [...QUICK, 'endpoint', 'status', '-w', 'json'], options),
    runEtcdctl(session, [...QUICK, 'endpoint', 'health', '-w', 'json'], options),
    runEtcdctl(session, [...QUICK, 'member', 'list', '-w', 'json'], options),
    session.exec(['test', '-f', remoteSnapshot(ctx)], {...options, allowFailure: true, sudo: true}),
  ])
  const facts: MemberFacts = {detail: '', node: node.name, saved: saved.code === 0, state: 'healthy'}
  if (status.noContainer) return {...facts, detail: 'no etcd container is running there (crictl ps)', state: 'not running'}
  if (status.code !== 0) return {...facts, detail: `etcdctl cannot reach the member there: ${etcdctlError(status)}`, state: 'unreachable'}
  try {
    const s = parseEndpointStatus(status.stdout)
    const name = members.code === 0 ? parseMemberList(members.stdout).find((m) => m.id === s.memberId)?.name : undefined
    Object.assign(facts, {leader: s.leader === s.memberId, memberId: s.memberId, memberName: name || undefined, revision: s.revision, version: s.version})
    if (s.errors.length > 0) return {...facts, detail: `the member reports: ${s.errors.join('; ')}`, state: 'unhealthy'}
    if (s.leader === '0') return {...facts, detail: 'the member has no leader (quorum lost?)', state: 'unhealthy'}
  } catch (error) {
    return {...facts, detail: errorMessage(error), state: 'unhealthy'}
  }

  const h = health.stdout.trim() ? parseEndpointHealth(health.stdout) : {error: etcdctlError(health), health: false}
  if (!h.health) return {...facts, detail: `endpoint health fails: ${h.error ?? etcdctlError(health)}`, state: 'unhealthy'}
  return facts
}

interface ApiView {
  cordoned: Set<string>
  ready: Map<string, boolean>
  version?: string
}

/** The API's view, best effort and quick: which control planes are cordoned, which etcd pods Ready. */
async function apiView(ctx: BackupContext): Promise<ApiView | string> {
  try {
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(15_000)])
    const kube = await ctx.kube()
    const [nodes, pods, version] = await Promise.all([
      kube.listNodes({signal}),
      kube.listPods({labelSelector: 'component=etcd', namespace: 'kube-system'}, {signal}),
      kube.version({signal}),
    ])
    const ready = new Map<string, boolean>()
    for (const pod of pods) {
      const on = pod.spec?.nodeName
      if (on) ready.set(on, pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false)
    }

    const cordoned = new Set(nodes.filter((n) => n.spec?.unschedulable).map((n) => n.metadata?.name ?? ''))
    return {cordoned, ready, version: version.gitVersion.replace(/^v/, '')}
  } catch (error) {
    return errorMessage(error).split('\n')[0]!
  }
}

export function describeMember(m: MemberFacts): string {
  const member = m.memberName && m.memberName !== m.node ? ` (member ${m.memberName})` : ''
  return `${m.node}${member}: ${m.state}${m.detail ? ` — ${m.detail}` : ''}`
}

/**
 * The member to use. This run's snapshot already on a node (a resume) → that node. `--node` →
 * exactly that one, if healthy. Otherwise a healthy member whose node is not cordoned (a cordoned
 * control plane is under maintenance), a follower before the leader, in kp.yaml's order.
 */
function choose(ctx: BackupContext): string {
  const {members} = ctx.facts
  if (ctx.facts.done) return ctx.facts.done.sidecar.node
  const saved = members.find((m) => m.saved)
  if (saved) return saved.node
  const states = () => members.map((m) => describeMember(m)).join('; ')
  if (ctx.params.node) {
    const forced = members.find((m) => m.node === ctx.params.node)!
    if (forced.state === 'healthy' || forced.state === 'cordoned') return forced.node
    throw new StepFailedError(`the member on ${forced.node} cannot be used: ${states()}`, {hint: 'Leave out --node to use another healthy member, or see runbooks/etcd-backup.md#gather-facts.'})
  }

  const healthy = members.filter((m) => m.state === 'healthy')
  if (healthy.length === 0) {
    throw new StepFailedError(`no healthy etcd member to take a snapshot from: ${states()}`, {
      hint: members.some((m) => m.state === 'cordoned')
        ? 'A cordoned control plane is skipped as under maintenance; name it with --node to use it anyway.'
        : 'Look at the members with "kp ssh NODE" (crictl ps --name etcd; crictl logs ID); see runbooks/etcd-backup.md#gather-facts.',
    })
  }

  return (healthy.find((m) => !m.leader) ?? healthy[0]!).node
}

export const gatherFacts: Step<BackupFacts, BackupParams> = {
  gathersFacts: true,
  id: 'gather-facts',
  title: 'Gather facts',
  async run(ctx) {
    const {config} = ctx.config
    const controlPlanes = config.nodes.filter((n) => n.role === 'control-plane')
    if (ctx.params.node && !controlPlanes.some((n) => n.name === ctx.params.node)) {
      throw new UsageError(`--node ${ctx.params.node} is not a control plane of kp.yaml; its control planes are ${controlPlanes.map((n) => n.name).join(', ') || 'none'}`)
    }

    const keep = ctx.params.keep === undefined || ctx.params.keep === '' ? config.backup.keep : Number(ctx.params.keep)
    if (!Number.isInteger(keep) || keep < 1) throw new UsageError(`--keep must be a whole number of at least 1, not "${String(ctx.params.keep)}"`)
    ctx.facts.keep = keep
    ctx.facts.dir = ctx.params.output ? path.resolve(ctx.params.output) : backupsDir(ctx.stateDir, config.cluster.name)
    ctx.facts.done = listBackups(ctx.facts.dir).find((e) => e.sidecar.runId === ctx.runId && e.sidecar.cluster === config.cluster.name)

    const [members, api] = await Promise.all([Promise.all(controlPlanes.map((node) => probe(ctx, node))), apiView(ctx)])
    if (typeof api === 'string') ctx.log(`the API did not answer (${api}): cordons and its view of etcd are not known`)
    else {
      for (const m of members) {
        m.apiReady = api.ready.get(m.node)
        // What the issue calls "the API says healthy but etcdctl cannot reach it": name it.
        if (m.apiReady && m.state !== 'healthy') m.detail += `; the API reports its pod etcd-${m.node} Ready, yet etcdctl on ${m.node} cannot use it`
        if (m.state === 'healthy' && api.cordoned.has(m.node) && ctx.params.node !== m.node) {
          Object.assign(m, {detail: 'its node is cordoned: under maintenance, so skipped (--node uses it anyway)', state: 'cordoned'})
        }
      }
    }

    ctx.facts.members = members
    ctx.facts.kubernetesVersion = (typeof api === 'string' ? undefined : api.version) ?? config.cluster.kubernetesVersion
    for (const m of members) ctx.log(describeMember(m))
    ctx.facts.chosen = choose(ctx)
    ctx.log(`the snapshot comes from ${ctx.facts.chosen}`)
  },
}
