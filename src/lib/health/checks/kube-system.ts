import type {KubePod} from '../../kube/types.js'
import {type Finding, fromFindings} from '../status.js'
import type {Check} from '../types.js'

/** Waiting reasons that mean the container will not run without someone fixing something. */
const BROKEN = new Set(['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'CreateContainerConfigError', 'CreateContainerError', 'InvalidImageName', 'RunContainerError'])

export function podFindings(pod: KubePod, restartWarn: number): Finding[] {
  const name = pod.metadata?.name ?? '?'
  const phase = pod.status?.phase ?? 'Unknown'
  if (phase === 'Succeeded' || pod.metadata?.deletionTimestamp) return []
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
  const findings: Finding[] = []
  const broken = statuses.map((s) => s.state?.waiting?.reason).find((r) => r !== undefined && BROKEN.has(r))
  if (broken) findings.push({status: 'CRITICAL', text: `${name} ${broken}`})
  else if (phase !== 'Running') findings.push({status: 'CRITICAL', text: `${name} ${phase}${pod.status?.reason ? ` (${pod.status.reason})` : ''}`})
  else if (pod.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') findings.push({status: 'WARNING', text: `${name} not ready`})
  // restartCount counts since the pod was created: a pod that restarted long ago stays here until it is replaced.
  const restarts = Math.max(0, ...statuses.map((s) => s.restartCount ?? 0))
  if (restarts >= restartWarn) findings.push({status: 'WARNING', text: `${name} restarted ${restarts} times`})
  return findings
}

export const kubeSystemCheck: Check = {
  description: 'Pods in kube-system run and are ready: CrashLoopBackOff or not running is CRITICAL, health.podRestartWarn restarts or more a WARNING.',
  name: 'kube-system',
  async run({kube, loaded, signal}) {
    const pods = await (await kube()).listPods({namespace: 'kube-system'}, {signal})
    const findings = pods.flatMap((p) => podFindings(p, loaded.config.health.podRestartWarn))
    if (pods.length === 0) return {reason: 'no pods in kube-system', status: 'CRITICAL'}
    return fromFindings(findings, `${pods.length} pods running`)
  },
}
