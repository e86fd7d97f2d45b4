/**
 * The changing steps of node-prepare. Each one is a playbook (playbooks/node-prepare/<script>.sh)
 * that checks before it acts; each step here says which script, with which arguments, under which
 * title (the runbook heading). The step logic lives in the scripts, one per step.
 */
import type {NodeConfig} from '../../config/schema.js'
import {kubernetesAptRepo} from '../../config/nodes.js'
import type {Step, UnitContext} from '../../engine/types.js'
import {pauseImage} from '../../kubernetes-versions.js'
import {type PrepareContext, type PrepareFacts, type PrepareParams, nodeOf} from './facts.js'
import {applyPlaybook, checkPlaybook} from './playbook.js'

interface PlaybookStep {
  args: (ctx: PrepareContext, node: NodeConfig) => string[]
  id: string
  script: string
  title: string
}

type PrepareUnit = UnitContext<PrepareFacts, PrepareParams>

const version = (ctx: PrepareContext) => ctx.config.config.cluster.kubernetesVersion

/** What `check` says for a unit, asked once per run: a dry run's plan reuses the answer instead of asking the node twice. */
async function wouldChange(ctx: PrepareUnit, spec: PlaybookStep): Promise<string[] | undefined> {
  return ctx.memo(`node-prepare ${spec.id}@${ctx.target!}`, async () => {
    const session = await ctx.ssh(ctx.target!)
    return checkPlaybook(session, spec.script, spec.args(ctx, nodeOf(ctx, ctx.target)), ctx.signal)
  })
}

function playbookStep(spec: PlaybookStep): Step<PrepareFacts, PrepareParams> {
  return {
    concurrency: 6,
    id: spec.id,
    title: spec.title,
    targets: (ctx) => ctx.facts.nodes.map((n) => n.name),
    check: async (ctx) => ((await wouldChange(ctx, spec)) ? false : 'in place'),
    plan: async (ctx) => (await wouldChange(ctx, spec)) ?? [spec.title.toLowerCase()],
    async run(ctx) {
      const session = await ctx.ssh(ctx.target!)
      const args = spec.args(ctx, nodeOf(ctx, ctx.target))
      const result = await ctx.mutate(spec.title.toLowerCase(), () => applyPlaybook(session, spec.script, args, ctx.signal))
      // The unit's scope already names the node, in the log and on the screen.
      for (const line of result?.lines ?? []) ctx.log(line)
      if (result) ctx.markChanged(result.changed)
    },
  }
}

export const setHostname = playbookStep({
  args: (ctx, node) => [node.name, node.ip, ...(ctx.config.config.network.searchDomain ? [ctx.config.config.network.searchDomain] : [])],
  id: 'hostname',
  script: 'hostname',
  title: 'Set the hostname and /etc/hosts',
})

export const turnSwapOff = playbookStep({args: () => [], id: 'swap', script: 'swap', title: 'Turn swap off'})

export const loadModules = playbookStep({args: () => [], id: 'modules', script: 'modules', title: 'Load the kernel modules'})

export const setKernelParameters = playbookStep({args: () => [], id: 'sysctl', script: 'sysctl', title: 'Set the kernel parameters'})

export const installContainerd = playbookStep({args: (ctx) => [pauseImage(version(ctx))], id: 'containerd', script: 'containerd', title: 'Install and configure containerd'})

export const addKubernetesRepo = playbookStep({
  args(ctx) {
    const {keyFingerprint, keyUrl, repoUrl} = kubernetesAptRepo(ctx.config.config, version(ctx))
    return [repoUrl, keyUrl, ...(keyFingerprint ? [keyFingerprint] : [])]
  },
  id: 'kubernetes-repo',
  script: 'k8s-repo',
  title: 'Add the Kubernetes package repository',
})

export const installKubernetesPackages = playbookStep({args: (ctx) => [version(ctx)], id: 'kubernetes-packages', script: 'k8s-packages', title: 'Install kubelet, kubeadm, kubectl and cri-tools'})

export const enableKubelet = playbookStep({args: () => [], id: 'kubelet', script: 'kubelet', title: 'Enable the kubelet'})

export const pointCrictl = playbookStep({args: () => [], id: 'crictl', script: 'crictl', title: 'Point crictl at containerd'})
