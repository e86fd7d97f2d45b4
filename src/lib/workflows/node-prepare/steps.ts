/**
 * The changing steps of node-prepare. Each one is a playbook (playbooks/node-prepare/<script>.sh)
 * that checks before it acts; this table says which script, with which arguments, under which
 * title (the runbook heading). The step logic lives in the scripts, one per step.
 */
import {kubernetesAptRepo} from '../../config/nodes.js'
import type {Step} from '../../engine/types.js'
import {pauseImage} from '../../kubernetes-versions.js'
import {type PrepareContext, type PrepareFacts, type PrepareParams, nodeOf, sessionOf} from './facts.js'
import {applyPlaybook, checkPlaybook} from './playbook.js'

interface PlaybookStep {
  args: (ctx: PrepareContext, node: ReturnType<typeof nodeOf>) => string[]
  id: string
  script: string
  title: string
}

const version = (ctx: PrepareContext) => ctx.config!.config.cluster.kubernetesVersion

const PLAYBOOK_STEPS: PlaybookStep[] = [
  {args: (ctx, node) => [node.name, node.ip, ...(ctx.config!.config.network.searchDomain ? [ctx.config!.config.network.searchDomain] : [])], id: 'hostname', script: 'hostname', title: 'Set the hostname and /etc/hosts'},
  {args: () => [], id: 'swap', script: 'swap', title: 'Turn swap off'},
  {args: () => [], id: 'modules', script: 'modules', title: 'Load the kernel modules'},
  {args: () => [], id: 'sysctl', script: 'sysctl', title: 'Set the kernel parameters'},
  {args: (ctx) => [pauseImage(version(ctx))], id: 'containerd', script: 'containerd', title: 'Install and configure containerd'},
  {
    args(ctx) {
      const {keyFingerprint, keyUrl, repoUrl} = kubernetesAptRepo(ctx.config!.config, version(ctx))
      return [repoUrl, keyUrl, ...(keyFingerprint ? [keyFingerprint] : [])]
    },
    id: 'kubernetes-repo',
    script: 'k8s-repo',
    title: 'Add the Kubernetes package repository',
  },
  {args: (ctx) => [version(ctx)], id: 'kubernetes-packages', script: 'k8s-packages', title: 'Install kubelet, kubeadm, kubectl and cri-tools'},
  {args: () => [], id: 'kubelet', script: 'kubelet', title: 'Enable the kubelet'},
  {args: () => [], id: 'crictl', script: 'crictl', title: 'Point crictl at containerd'},
]

/** What `check` said per unit, so a dry run's plan does not ask the node twice. */
const wouldChange = new Map<string, string[]>()

function playbookStep(spec: PlaybookStep): Step<PrepareFacts, PrepareParams> {
  const key = (target: string | undefined) => `${spec.id}@${target ?? ''}`
  return {
    concurrency: 6,
    id: spec.id,
    title: spec.title,
    targets: (ctx) => ctx.facts.nodes.map((n) => n.name),
    async check(ctx) {
      const session = await sessionOf(ctx, ctx.target)
      const lines = await checkPlaybook(session, spec.script, spec.args(ctx, nodeOf(ctx, ctx.target)), ctx.signal)
      if (!lines) return 'in place'
      wouldChange.set(key(ctx.target), lines)
      return false
    },
    plan: (ctx) => wouldChange.get(key(ctx.target)) ?? [spec.title.toLowerCase()],
    async run(ctx) {
      const session = await sessionOf(ctx, ctx.target)
      const args = spec.args(ctx, nodeOf(ctx, ctx.target))
      const result = await ctx.mutate(spec.title.toLowerCase(), () => applyPlaybook(session, spec.script, args, ctx.signal))
      for (const line of result?.lines ?? []) ctx.log(`${ctx.target!}: ${line}`)
      if (result) ctx.markChanged(result.changed)
    },
  }
}

export const playbookSteps = PLAYBOOK_STEPS.map((spec) => playbookStep(spec))
