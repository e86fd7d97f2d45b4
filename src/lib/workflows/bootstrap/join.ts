/**
 * Join the other control planes, one at a time (each adds an etcd member: two joining at once can
 * cost etcd its quorum), then the workers, several at once. Secrets are made when a join needs
 * them, on the first control plane: one token per run for every join, and for each control plane a
 * fresh certificate key (the uploaded certificates expire after two hours, so an old key from an
 * interrupted run would not do). A node that has /etc/kubernetes/kubelet.conf has joined.
 */
import {findNode} from '../../config/nodes.js'
import type {Step} from '../../engine/types.js'
import {KUBEADM_CONFIG_PATHS, kubeadmJoinArgv, renderJoinConfig} from '../../kubeadm/index.js'
import {type BootstrapFacts, type BootstrapParams, type BootstrapUnit, firstControlPlane} from './facts.js'
import {KUBEADM_TIMEOUT_MS, createJoinSecrets, fileExists, uploadCertificates, withNodeFile} from './node-kubeadm.js'
import {nodesReady, waitFor} from './wait.js'

const KUBELET_CONF = '/etc/kubernetes/kubelet.conf'
const READY_TIMEOUT_MS = 5 * 60_000

async function join(ctx: BootstrapUnit): Promise<void> {
  const node = findNode(ctx.config.config, ctx.target!)
  const first = await ctx.ssh(firstControlPlane(ctx).name)
  // One token per run, in memory only; a failed attempt is forgotten, so the next unit makes a new one.
  const secrets = await ctx.memo('bootstrap join secrets', () => createJoinSecrets(first, ctx.signal))
  const certificateKey = node.role === 'control-plane' ? await uploadCertificates(first, ctx.signal) : undefined
  const text = renderJoinConfig(ctx.config.config, node, {bootstrapToken: secrets.token, caCertHashes: [secrets.caCertHash], certificateKey})
  const session = await ctx.ssh(node.name)
  await ctx.mutate(`kubeadm join on ${node.name}${certificateKey ? ' as a control plane' : ''}`, () =>
    withNodeFile(session, KUBEADM_CONFIG_PATHS.join, text, ctx.signal, () => session.exec(kubeadmJoinArgv(), {signal: ctx.signal, sudo: true, timeoutMs: KUBEADM_TIMEOUT_MS})),
  )
  const kube = await ctx.kube()
  await waitFor(`${node.name} to be Ready`, () => nodesReady(kube, [node.name], ctx.signal), {log: (line) => ctx.log(line), signal: ctx.signal, timeoutMs: READY_TIMEOUT_MS})
}

async function joined(ctx: BootstrapUnit): Promise<boolean | string> {
  const session = await ctx.ssh(ctx.target!)
  return (await fileExists(session, KUBELET_CONF, ctx.signal)) ? `already joined (${KUBELET_CONF} exists)` : false
}

export const joinControlPlanes: Step<BootstrapFacts, BootstrapParams> = {
  check: joined,
  concurrency: 1,
  id: 'join-control-planes',
  title: 'Join the other control planes',
  targets: (ctx) => ctx.config.config.nodes.filter((n) => n.role === 'control-plane' && n.name !== firstControlPlane(ctx).name).map((n) => n.name),
  plan: (ctx) => [`kubeadm join --control-plane on ${ctx.target}, then wait until it is Ready`],
  run: join,
}

export const joinWorkers: Step<BootstrapFacts, BootstrapParams> = {
  check: joined,
  concurrency: 6,
  id: 'join-workers',
  title: 'Join the workers',
  targets: (ctx) => ctx.config.config.nodes.filter((n) => n.role === 'worker').map((n) => n.name),
  plan: (ctx) => [`kubeadm join on ${ctx.target}, then wait until it is Ready`],
  run: join,
}
