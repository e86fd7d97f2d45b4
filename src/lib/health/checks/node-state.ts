/**
 * `--deep` only: each node's own state, read in one command over the run's one SSH connection per
 * node: a pending reboot, the Kubernetes packages (held, at cluster.kubernetesVersion), how full /
 * and /var/lib/etcd are, and whether the kubelet runs. Parsing and judging are pure and unit-tested.
 */
import {errorMessage} from '../../errors.js'
import {type Finding, fromFindings, type Status} from '../status.js'
import type {Check, HealthContext, Metric} from '../types.js'

/** The packages kubeadm expects at the cluster's version on every node (cri-tools and the CNI plugins follow their own). */
export const HELD_PACKAGES = ['kubeadm', 'kubelet', 'kubectl'] as const
export const DISK_PATHS = ['/', '/var/lib/etcd'] as const

// key=value lines; df only for a folder that exists (workers have no /var/lib/etcd).
export const NODE_STATE_SCRIPT = `if [ -e /var/run/reboot-required ]; then echo reboot-required=1; else echo reboot-required=0; fi
printf 'reboot-pkgs=%s\\n' "$(sort -u /var/run/reboot-required.pkgs 2>/dev/null | tr '\\n' ' ')"
printf 'held=%s\\n' "$(apt-mark showhold 2>/dev/null | tr '\\n' ' ')"
for p in ${HELD_PACKAGES.join(' ')}; do printf 'pkg=%s=%s\\n' "$p" "$(dpkg-query -W -f='\${db:Status-Abbrev}\${Version}' "$p" 2>/dev/null | sed -n 's/^ii *//p')"; done
printf 'kubelet=%s\\n' "$(systemctl is-active kubelet 2>/dev/null)"
for d in ${DISK_PATHS.join(' ')}; do [ -d "$d" ] && printf 'disk=%s=%s\\n' "$d" "$(df -P "$d" | awk 'NR == 2 { sub("%", "", $5); print $5 }')"; done
exit 0`

export interface NodeState {
  rebootRequired: boolean
  rebootPackages: string[]
  held: string[]
  /** Installed version per package; '' when not installed. */
  packages: Record<string, string>
  /** `systemctl is-active kubelet`: active, inactive, failed… */
  kubelet: string
  /** Percent used per path. */
  disk: Record<string, number>
}

export function parseNodeState(text: string): NodeState {
  const state: NodeState = {disk: {}, held: [], kubelet: '', packages: {}, rebootPackages: [], rebootRequired: false}
  const words = (s: string) => s.split(/\s+/).filter(Boolean)
  for (const line of text.split('\n')) {
    const [key, ...rest] = line.split('=')
    const value = rest.join('=')
    if (key === 'reboot-required') state.rebootRequired = value.trim() === '1'
    else if (key === 'reboot-pkgs') state.rebootPackages = words(value)
    else if (key === 'held') state.held = words(value)
    else if (key === 'kubelet') state.kubelet = value.trim()
    else if (key === 'pkg') state.packages[rest[0]!] = rest.slice(1).join('=').trim()
    else if (key === 'disk' && rest[1] && /^\d+$/.test(rest[1].trim())) state.disk[rest[0]!] = Number(rest[1].trim())
  }

  return state
}

export interface NodeStateThresholds {
  kubernetesVersion: string
  diskWarnPercent: number
  diskCriticalPercent: number
}

const minorOf = (v: string) => v.replace(/^v/, '').split('.').slice(0, 2).join('.')
/** Debian's version of a Kubernetes package (1.31.9-1.1) is the upstream one and a revision. */
const upstreamOf = (v: string) => v.replace(/^\d+:/, '').replace(/-[^-]*$/, '')

export function judgeNodeState(node: string, state: NodeState, t: NodeStateThresholds): Finding[] {
  const findings: Finding[] = []
  const want = t.kubernetesVersion.replace(/^v/, '')
  if (state.rebootRequired) {
    findings.push({status: 'WARNING', text: `${node} waits for a reboot (${state.rebootPackages.join(', ') || '/var/run/reboot-required'}): kp node patch ${node} reboots it safely`})
  }

  for (const p of HELD_PACKAGES) {
    const version = state.packages[p] ?? ''
    if (version === '') {
      findings.push({status: 'CRITICAL', text: `${node} has no ${p} package installed: kp node prepare ${node} installs ${want}`})
      continue
    }

    const upstream = upstreamOf(version)
    if (upstream !== want) {
      const minor = minorOf(upstream) !== minorOf(want)
      findings.push({
        status: minor ? 'CRITICAL' : 'WARNING',
        text: `${node} runs ${p} ${version}, not cluster.kubernetesVersion ${want}: upgrade the node with kubeadm's procedure, or set cluster.kubernetesVersion to what the cluster runs`,
      })
    }
  }

  const unheld = HELD_PACKAGES.filter((p) => state.packages[p] && !state.held.includes(p))
  if (unheld.length > 0) {
    findings.push({status: 'WARNING', text: `${node} does not hold ${unheld.join(', ')}: an apt upgrade could move them; kp ssh ${node} -- sudo apt-mark hold ${unheld.join(' ')}`})
  }

  for (const [path, used] of Object.entries(state.disk)) {
    const status: Status = used >= t.diskCriticalPercent ? 'CRITICAL' : used >= t.diskWarnPercent ? 'WARNING' : 'OK'
    const key = status === 'CRITICAL' ? `health.diskUsageCriticalPercent (${t.diskCriticalPercent})` : `health.diskUsageWarnPercent (${t.diskWarnPercent})`
    findings.push({status, text: status === 'OK' ? `${node} ${path} ${used}% used` : `${node} ${path} is ${used}% full, at or above ${key}: free space there`})
  }

  if (state.kubelet !== 'active') {
    findings.push({status: 'CRITICAL', text: `${node}'s kubelet is ${state.kubelet || 'unknown to systemd'}: kp ssh ${node} -- 'sudo journalctl -u kubelet -n 50' says why`})
  }

  return findings
}

export function nodeStateMetrics(node: string, state: NodeState): Metric[] {
  const metrics: Metric[] = [
    {help: 'Whether the node waits for a reboot (/var/run/reboot-required): 1 or 0.', labels: {node}, name: 'kp_node_reboot_required', value: state.rebootRequired ? 1 : 0},
    {help: 'Whether the kubelet is active (systemctl is-active): 1 or 0.', labels: {node}, name: 'kp_node_kubelet_active', value: state.kubelet === 'active' ? 1 : 0},
  ]
  for (const [path, used] of Object.entries(state.disk)) {
    metrics.push({help: 'How full the filesystem holding the path is, in percent (df).', labels: {node, path}, name: 'kp_node_disk_used_percent', value: used})
  }

  return metrics
}

async function readState(ctx: HealthContext, node: string): Promise<{findings: Finding[]; metrics: Metric[]}> {
  const {cluster, health} = ctx.loaded.config
  try {
    const session = await ctx.ssh(node)
    const {stdout} = await session.exec(['sh', '-c', NODE_STATE_SCRIPT], {idempotent: true, signal: ctx.signal, sudo: true})
    const state = parseNodeState(stdout)
    const thresholds = {diskCriticalPercent: health.diskUsageCriticalPercent, diskWarnPercent: health.diskUsageWarnPercent, kubernetesVersion: cluster.kubernetesVersion}
    return {findings: judgeNodeState(node, state, thresholds), metrics: nodeStateMetrics(node, state)}
  } catch (error) {
    return {findings: [{status: 'UNKNOWN', text: `${node}: kp cannot read its state over SSH: ${errorMessage(error).split('\n')[0]}`}], metrics: []}
  }
}

export const nodeStateCheck: Check = {
  deepOnly: true,
  description:
    '--deep: on every node over SSH, a pending reboot (/var/run/reboot-required), kubeadm, kubelet and kubectl held and at cluster.kubernetesVersion, / and /var/lib/etcd against health.diskUsageWarnPercent/CriticalPercent, the kubelet active.',
  name: 'node-state',
  async run(ctx) {
    const nodes = ctx.loaded.config.nodes
    const answers = await Promise.all(nodes.map((n) => readState(ctx, n.name)))
    const findings = answers.flatMap((a) => a.findings)
    return {...fromFindings(findings, `${nodes.length} node${nodes.length === 1 ? '' : 's'}: kubelet active, packages held at the cluster's version, disks below their thresholds, no reboot pending`), metrics: answers.flatMap((a) => a.metrics)}
  },
}
