/**
 * The etcd check.
 *
 * Cheap (the default, no SSH): `/readyz/etcd`, which fails once the API server cannot use etcd
 * (quorum lost, or no member it can reach), and the etcd mirror pods (kube-system,
 * component=etcd): how many members their kubelets report Ready, against the quorum. A cluster
 * with external etcd has no such pods; then `/readyz/etcd` alone answers.
 *
 * Deep (`--deep`): etcdctl on every control plane of kp.yaml, inside its etcd container
 * (src/lib/etcd/etcdctl.ts), all at once over the run's one SSH connection per node and inside
 * its deadline: each member's own `endpoint status` (leader, raft index, DB size, errors), the
 * member list and the alarms, and the member's quota from its static pod manifest. The API's view
 * still comes along, to name a member the API calls Ready that etcdctl cannot use.
 *
 * The judging functions are pure (fed parsed etcdctl output), so every verdict is unit-tested.
 */
import {errorMessage} from '../../errors.js'
import {etcdctlError, runEtcdctl} from '../../etcd/etcdctl.js'
import {type EndpointStatus, type EtcdAlarm, type EtcdMember, parseAlarms, parseEndpointStatus, parseMemberList} from '../../etcd/parse.js'
import type {KubePod} from '../../kube/types.js'
import {controlPlanes} from '../../config/nodes.js'
import {type Finding, fromFindings, type Status} from '../status.js'
import type {Check, HealthContext, Metric, Outcome} from '../types.js'
import {healthFinding} from './api.js'

/** kubeadm's static pod manifest of the member: its flags are what runs. */
export const ETCD_MANIFEST = '/etc/kubernetes/manifests/etcd.yaml'
/** etcd's quota when --quota-backend-bytes is not given. */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 ** 3
export const DB_WARN = 0.8
export const DB_CRITICAL = 0.95
/** Raft entries a member may trail the furthest one by before it counts as lagging. */
export const RAFT_SPREAD_WARN = 1000
/** Short etcdctl timeouts, so a member that does not answer is named well inside kp health's deadline. */
const QUICK = ['--dial-timeout=2s', '--command-timeout=4s']

const quorumOf = (members: number) => Math.floor(members / 2) + 1

/** An etcd mirror pod as the API reports it. */
export interface EtcdPod {
  name: string
  node: string
  ready: boolean
  /** Why not Ready, when the pod says (CrashLoopBackOff, Pending…). */
  why?: string
}

export function etcdPods(pods: readonly KubePod[]): EtcdPod[] {
  return pods.map((pod) => {
    const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false
    const waiting = pod.status?.containerStatuses?.map((s) => s.state?.waiting?.reason).find(Boolean)
    const phase = pod.status?.phase
    const why = waiting ?? (phase && phase !== 'Running' ? phase : undefined)
    return {name: pod.metadata?.name ?? '?', node: pod.spec?.nodeName ?? '', ready, ...(!ready && why ? {why} : {})}
  })
}

/**
 * The API's word: `/readyz/etcd` (its finding) and the mirror pods. A majority not Ready while
 * `/readyz/etcd` still answers ok stays a WARNING (the pods lag, or the API reads from the one
 * member left until its next quorum read fails), said as quorum at risk.
 */
export function judgeApi(readyz: Finding, pods: readonly EtcdPod[] | undefined): Finding[] {
  const findings = [readyz]
  if (!pods || pods.length === 0) return findings
  const ready = pods.filter((p) => p.ready).length
  const count = `${ready} of ${pods.length} etcd members ready`
  const down = pods.filter((p) => !p.ready).map((p) => `${p.name} not ready${p.why ? ` (${p.why})` : ''}`)
  if (down.length === 0) return [...findings, {status: 'OK', text: count}]
  const lost = ready < quorumOf(pods.length)
  if (lost && readyz.status === 'CRITICAL') return [...findings, {status: 'CRITICAL', text: `${count}: quorum lost; ${down.join(', ')}`}]
  return [...findings, {status: 'WARNING', text: `${count}${lost ? ': quorum at risk' : ''}; ${down.join(', ')}`}]
}

/** What kp learned on one control plane. */
export interface MemberProbe {
  node: string
  /** Why there is no status from there: SSH, no etcd container, etcdctl's own error. */
  error?: string
  status?: EndpointStatus
  /** The member's --quota-backend-bytes; `fromManifest` false when the default applies. */
  quota?: {bytes: number; fromManifest: boolean}
}

export interface DeepView {
  probes: MemberProbe[]
  /** The member list from the first control plane that answered; undefined when none did. */
  members?: EtcdMember[]
  alarms: EtcdAlarm[]
  /** The API's mirror pods, to name a member it calls Ready that etcdctl cannot use. */
  pods?: readonly EtcdPod[]
}

/** One member's row: a member of the list, or a control plane whose member kp could not place. */
interface Row {
  name: string
  node?: string
  probe?: MemberProbe
  /** Why the member is not healthy; undefined when it is. */
  why?: string
}

/** etcd's quota from the manifest's command line; the default when the flag is absent. */
export function quotaFromManifest(manifest: string | undefined): {bytes: number; fromManifest: boolean} {
  const flag = manifest ? /--quota-backend-bytes[= ]["']?(\d+)/.exec(manifest) : null
  return flag ? {bytes: Number(flag[1]), fromManifest: true} : {bytes: DEFAULT_QUOTA_BYTES, fromManifest: false}
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }

  return `${unit === 0 || Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`
}

/** Alarms appear in endpoint status's errors too; the rest of the errors make the member unhealthy. */
const isAlarm = (error: string) => parseAlarms(error).length > 0

function whyUnhealthy(probe: MemberProbe | undefined): string | undefined {
  if (!probe) return undefined
  if (probe.error) return probe.error
  if (!probe.status) return 'no status'
  const errors = probe.status.errors.filter((e) => !isAlarm(e)).map((e) => e.trim())
  if (errors.length > 0) return errors.join('; ')
  return probe.status.leader === '0' ? 'no leader' : undefined
}

/** Every member of the list with the probe of its control plane, then the probes no member claims. */
function rows(view: DeepView): Row[] {
  const claimed = new Set<MemberProbe>()
  const result: Row[] = []
  for (const m of view.members ?? []) {
    // A member that answered is known by its id; one that did not, by its name (kubeadm names members after nodes).
    const probe = view.probes.find((p) => p.status?.memberId === m.id) ?? view.probes.find((p) => !p.status && p.node === m.name)
    if (probe) claimed.add(probe)
    const name = m.name || m.id
    const why = probe ? whyUnhealthy(probe) : m.name ? 'not on a control plane of kp.yaml, so not checked' : 'added but never started'
    result.push({name, ...(probe ? {node: probe.node, probe} : {}), ...(why ? {why} : {})})
  }

  for (const probe of view.probes.filter((p) => !claimed.has(p))) {
    const why = whyUnhealthy(probe) ?? (view.members ? 'its member is not in the member list' : undefined)
    result.push({name: probe.node, node: probe.node, probe, ...(why ? {why} : {})})
  }

  return result
}

function rowLine(row: Row, leader: string | undefined): string {
  const s = row.probe?.status
  const parts = [row.why ? `unhealthy (${row.why})` : `healthy${s && s.memberId === leader ? ', leader' : ''}`]
  if (s) {
    const quota = row.probe?.quota
    const inUse = s.dbSizeInUse < s.dbSize ? `, ${formatBytes(s.dbSizeInUse)} in use` : ''
    parts.push(quota ? `db ${formatBytes(s.dbSize)} of ${formatBytes(quota.bytes)} (${Math.round((100 * s.dbSize) / quota.bytes)}%${inUse})` : `db ${formatBytes(s.dbSize)}`)
    parts.push(`raft index ${s.raftIndex}`, `etcd ${s.version}`)
  }

  return `${row.name}${row.node && row.node !== row.name ? ` on ${row.node}` : ''}: ${parts.join(', ')}`
}

const ALARM_MEANS: Record<string, string> = {
  CORRUPT: "a member's data differs from the others'",
  NOSPACE: 'the DB reached its quota, writes are refused until it is compacted, defragmented and the alarm disarmed',
}

/** The deep verdict: members, leader, quorum, alarms, DB size against the quota, raft spread. */
export function judgeDeep(view: DeepView): {findings: Finding[]; lines: string[]; metrics: Metric[]; summary: string} {
  const all = rows(view)
  const healthy = all.filter((r) => !r.why)
  const n = all.length
  const nameOf = (id: string) => all.find((r) => r.probe?.status?.memberId === id)?.name ?? view.members?.find((m) => m.id === id)?.name ?? id
  const answered = all.filter((r) => r.probe?.status)
  const leaders = [...new Set(answered.map((r) => r.probe!.status!.leader).filter((l) => l !== '0'))]
  const leader = leaders.length === 1 ? leaders[0] : undefined
  const findings: Finding[] = []

  const count = `${healthy.length} of ${n} members healthy`
  const countStatus: Status = healthy.length < quorumOf(n) ? 'CRITICAL' : healthy.length < n ? 'WARNING' : 'OK'
  if (countStatus !== 'OK') {
    findings.push({status: countStatus, text: countStatus === 'CRITICAL' ? `quorum lost: ${count}` : count})
    for (const r of all.filter((row) => row.why)) {
      const pod = view.pods?.find((p) => p.node === (r.node ?? r.name))
      const api = pod?.ready ? `; the API reports its pod ${pod.name} Ready, yet etcdctl on ${pod.node} cannot use it` : ''
      findings.push({status: countStatus, text: `${r.name}: ${r.why}${api}`})
    }
  }

  if (answered.length > 0 && leaders.length === 0) findings.push({status: 'CRITICAL', text: 'no leader: no member that answered knows one'})
  if (leaders.length > 1) {
    const says = answered.map((r) => `${r.name} says ${r.probe!.status!.leader === '0' ? 'none' : nameOf(r.probe!.status!.leader)}`)
    findings.push({status: 'CRITICAL', text: `members disagree on the leader: ${says.join(', ')}`})
  }

  const alarms = new Map<string, EtcdAlarm>()
  for (const a of [...view.alarms, ...answered.flatMap((r) => r.probe!.status!.errors.flatMap((e) => parseAlarms(e)))]) alarms.set(`${a.memberId}/${a.alarm}`, a)
  for (const a of alarms.values()) findings.push({status: 'CRITICAL', text: `alarm ${a.alarm} on ${nameOf(a.memberId)}${ALARM_MEANS[a.alarm] ? `: ${ALARM_MEANS[a.alarm]}` : ''}`})

  for (const r of answered) {
    const {dbSize, dbSizeInUse} = r.probe!.status!
    const quota = r.probe!.quota ?? quotaFromManifest(undefined)
    const share = dbSize / quota.bytes
    if (share < DB_WARN) continue
    const free = dbSizeInUse < dbSize * 0.8 ? ` (${formatBytes(dbSizeInUse)} in use: a defragment would free the rest)` : ''
    const text = `${r.name} DB ${formatBytes(dbSize)} is ${Math.floor(share * 100)}% of its ${formatBytes(quota.bytes)} quota${free}`
    findings.push({status: share >= DB_CRITICAL ? 'CRITICAL' : 'WARNING', text})
  }

  const indexes = answered.map((r) => r.probe!.status!.raftIndex)
  const furthest = Math.max(...indexes)
  for (const r of answered.filter((row) => furthest - row.probe!.status!.raftIndex > RAFT_SPREAD_WARN)) {
    findings.push({status: 'WARNING', text: `${r.name} lags: raft index ${r.probe!.status!.raftIndex}, ${furthest - r.probe!.status!.raftIndex} behind the furthest member`})
  }

  // The member nearest its quota speaks for the DB sizes in the one-line reason.
  const share = (r: Row) => r.probe!.status!.dbSize / (r.probe!.quota ?? quotaFromManifest(undefined)).bytes
  const fullest = answered.reduce<Row | undefined>((a, r) => (a && share(a) >= share(r) ? a : r), undefined)
  const quotaOf = (r: Row) => (r.probe!.quota ?? quotaFromManifest(undefined)).bytes
  const db = fullest ? `, DB up to ${formatBytes(fullest.probe!.status!.dbSize)} of ${formatBytes(quotaOf(fullest))} (${fullest.name})` : ''
  const summary = `${count}${leader ? `, leader ${nameOf(leader)}` : ''}${db}`
  return {findings, lines: all.map((r) => rowLine(r, leader)), metrics: deepMetrics(all, [...alarms.values()], nameOf, leader), summary}
}

function deepMetrics(all: readonly Row[], alarms: readonly EtcdAlarm[], nameOf: (id: string) => string, leader: string | undefined): Metric[] {
  const gauge = (name: string, help: string, labels: Record<string, string>, value: number): Metric => ({help, labels, name, value})
  const metrics: Metric[] = [
    gauge('kp_etcd_members', 'etcd members in the member list (kp health --deep).', {}, all.length),
    gauge('kp_etcd_members_healthy', 'etcd members that answered etcdctl on their control plane, knowing a leader, without errors (kp health --deep).', {}, all.filter((r) => !r.why).length),
  ]
  for (const r of all) {
    const member = {member: r.name}
    const s = r.probe?.status
    metrics.push(gauge('kp_etcd_member_healthy', 'Whether the etcd member is healthy (1) or not (0), from etcdctl on its control plane.', member, r.why ? 0 : 1))
    metrics.push(gauge('kp_etcd_member_leader', 'Whether the etcd member is the leader (1) or not (0).', member, s && s.memberId === leader ? 1 : 0))
    if (s) {
      metrics.push(gauge('kp_etcd_db_size_bytes', "Size of the etcd member's database file (what its quota applies to).", member, s.dbSize))
      metrics.push(gauge('kp_etcd_raft_index', "The etcd member's raft index.", member, s.raftIndex))
    }

    if (r.probe?.quota) metrics.push(gauge('kp_etcd_db_quota_bytes', "The etcd member's --quota-backend-bytes (etcd's 2 GiB default when not set).", member, r.probe.quota.bytes))
  }

  for (const a of alarms) metrics.push(gauge('kp_etcd_alarm', 'An active etcd alarm (NOSPACE, CORRUPT), 1 per member and alarm.', {alarm: a.alarm, member: nameOf(a.memberId)}, 1))
  return metrics
}

const firstLine = (error: unknown) => errorMessage(error).split('\n')[0]!

function attempt<T>(parse: () => T): T | undefined {
  try {
    return parse()
  } catch {
    return undefined
  }
}

/** etcdctl on one control plane: its member's status and quota, and the cluster's member list and alarms as it sees them. */
async function probeNode(ctx: HealthContext, node: string): Promise<{alarms?: EtcdAlarm[]; members?: EtcdMember[]; probe: MemberProbe}> {
  let session
  try {
    session = await ctx.ssh(node)
  } catch (error) {
    return {probe: {error: `kp cannot log in over SSH: ${firstLine(error)}`, node}}
  }

  const options = {idempotent: true, signal: ctx.signal}
  // member list and alarm list come from every node at no extra wait, so one member down never hides them.
  const [status, members, alarms, manifest] = await Promise.all([
    runEtcdctl(session, [...QUICK, 'endpoint', 'status', '-w', 'json'], options),
    runEtcdctl(session, [...QUICK, 'member', 'list', '-w', 'json'], options),
    runEtcdctl(session, [...QUICK, 'alarm', 'list'], options),
    session.exec(['cat', ETCD_MANIFEST], {...options, allowFailure: true, sudo: true}),
  ])
  const quota = quotaFromManifest(manifest.code === 0 ? manifest.stdout : undefined)
  // Output kp cannot read from one node must not hide what the other nodes said: another node's list serves.
  const memberList = members.code === 0 ? attempt(() => parseMemberList(members.stdout)) : undefined
  const others = {...(memberList ? {members: memberList} : {}), ...(alarms.code === 0 ? {alarms: parseAlarms(alarms.stdout)} : {})}
  if (status.noContainer) return {...others, probe: {error: 'no running etcd container', node, quota}}
  if (status.code !== 0) return {...others, probe: {error: `etcdctl: ${etcdctlError(status)}`, node, quota}}
  try {
    return {...others, probe: {node, quota, status: parseEndpointStatus(status.stdout)}}
  } catch (error) {
    return {...others, probe: {error: firstLine(error), node, quota}}
  }
}

async function deepView(ctx: HealthContext): Promise<DeepView> {
  const answers = await Promise.all(controlPlanes(ctx.loaded.config).map((n) => probeNode(ctx, n.name)))
  const members = answers.find((a) => a.members)?.members
  const alarms = answers.find((a) => a.alarms)?.alarms ?? []
  return {alarms, probes: answers.map((a) => a.probe), ...(members ? {members} : {})}
}

/** The API's view: /readyz/etcd and the etcd pods (undefined when they could not be listed, with why). */
async function apiView(ctx: HealthContext): Promise<{pods?: EtcdPod[]; podsError?: string; readyz: Finding}> {
  const kube = await ctx.kube()
  const [answer, pods] = await Promise.all([
    kube.health('/readyz/etcd', {signal: ctx.signal}),
    kube.listPods({labelSelector: 'component=etcd', namespace: 'kube-system'}, {signal: ctx.signal}).then(etcdPods, (error: unknown) => firstLine(error)),
  ])
  // 404: this API server has no such check, which says nothing about etcd.
  const readyz: Finding = answer.status === 404 ? {status: 'UNKNOWN', text: 'the API server has no /readyz/etcd check (404)'} : healthFinding('/readyz/etcd', answer)
  return typeof pods === 'string' ? {podsError: pods, readyz} : {pods, readyz}
}

function outcome(findings: Finding[], okReason: string, lines: string[] = []): Outcome {
  const judged = fromFindings(findings, okReason)
  const problems = judged.status === 'OK' ? [] : judged.details
  return {details: [...problems, ...lines], reason: judged.reason, status: judged.status}
}

export const etcdCheck: Check = {
  description: 'etcd as the API server sees it (/readyz/etcd, the etcd pods Ready against the quorum); with --deep, etcdctl on every control plane: members, leader, alarms, DB size against the quota, raft index spread.',
  name: 'etcd',
  async run(ctx) {
    if (!ctx.deep) {
      const api = await apiView(ctx)
      const findings = judgeApi(api.readyz, api.pods)
      const okReason = findings.map((f) => f.text).join(', ')
      return outcome(findings, okReason, api.podsError ? [`etcd pods not listed: ${api.podsError}`] : [])
    }

    // The API may be down while etcd is fine: deep still judges etcd, and says what the API did not.
    const [api, view] = await Promise.all([apiView(ctx).catch((error: unknown) => firstLine(error)), deepView(ctx)])
    const pods = typeof api === 'string' ? undefined : api.pods
    const deep = judgeDeep({...view, ...(pods ? {pods} : {})})
    const findings = [...(typeof api === 'string' ? [] : [api.readyz]), ...deep.findings]
    const notes = typeof api === 'string' ? [`the API did not answer: ${api}`] : api.podsError ? [`etcd pods not listed: ${api.podsError}`] : []
    return {...outcome(findings, deep.summary, [...deep.lines, ...notes]), metrics: deep.metrics}
  },
}
