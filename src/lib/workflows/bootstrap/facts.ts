/**
 * What the bootstrap steps share: the facts of the two workflows it contains (vm-seed's Proxmox
 * view, node-prepare's SSH pool) and its own — the CNI manifest read in preflight and the
 * Kubernetes connection opened once the admin kubeconfig is here. Facts live in memory only: the
 * join secrets kept here never reach the journal.
 */
import {controlPlanes} from '../../config/nodes.js'
import type {NodeConfig} from '../../config/schema.js'
import type {RunContext, UnitContext} from '../../engine/types.js'
import type {Kube, KubernetesObject} from '../../kube/types.js'
import type {SshSession} from '../../ssh/types.js'
import {initialFacts as prepareFacts, type PrepareFacts, type PrepareParams, sessionOf} from '../node-prepare/facts.js'
import {initialFacts as seedFacts, type SeedFacts, type SeedParams} from '../vm-seed/facts.js'

export type BootstrapParams = SeedParams & PrepareParams

export interface JoinSecrets {
  caCertHash: string
  token: string
}

export interface BootstrapFacts extends SeedFacts, PrepareFacts {
  /** The CNI manifest's objects, read and checked in preflight. */
  cni: KubernetesObject[]
  kube?: Kube
  /** One join token per run, made on the first control plane when the first join needs it. */
  joinSecrets?: Promise<JoinSecrets>
}

export type BootstrapContext = RunContext<BootstrapFacts, BootstrapParams>
export type BootstrapUnit = UnitContext<BootstrapFacts, BootstrapParams>

export function initialFacts(): BootstrapFacts {
  return {...seedFacts(), ...prepareFacts(), cni: []}
}

/** The control plane kubeadm init runs on: the first one in kp.yaml. */
export function firstControlPlane(ctx: BootstrapContext): NodeConfig {
  const first = controlPlanes(ctx.config!.config)[0]
  if (!first) throw new Error('kp.yaml has no control plane (the schema requires one)')
  return first
}

export function nodeSession(ctx: BootstrapContext, name: string): Promise<SshSession> {
  return sessionOf(ctx, name)
}

/** The cluster's API through the admin kubeconfig fetched by the admin-kubeconfig step; one connection per run. */
export async function kubeOf(ctx: BootstrapContext): Promise<Kube> {
  if (ctx.facts.kube) return ctx.facts.kube
  const {kubeFromConfig} = await import('../../kube/from-config.js')
  const kube = await kubeFromConfig(ctx.config!, ctx.stateDir ?? '.', {log: (line) => ctx.log(line), signal: ctx.signal})
  ctx.onClose(() => kube.close())
  ctx.facts.kube = kube
  return kube
}
