/**
 * What the bootstrap steps share: the facts of the two workflows it contains (vm-seed's Proxmox
 * view, node-prepare's view of the nodes) and its own, the CNI manifest read in preflight. The
 * connections (Proxmox, SSH, the cluster's API) belong to the run, like the join secrets, which
 * are kept in the run's memory only and never reach the journal.
 */
import {controlPlanes} from '../../config/nodes.js'
import type {NodeConfig} from '../../config/schema.js'
import type {RunContext, UnitContext} from '../../engine/types.js'
import type {KubernetesObject} from '../../kube/types.js'
import {initialFacts as prepareFacts, type PrepareFacts, type PrepareParams} from '../node-prepare/facts.js'
import {initialFacts as seedFacts, type SeedFacts, type SeedParams} from '../vm-seed/facts.js'

export type BootstrapParams = SeedParams & PrepareParams

export interface JoinSecrets {
  caCertHash: string
  token: string
}

export interface BootstrapFacts extends SeedFacts, PrepareFacts {
  /** The CNI manifest's objects, read and checked in preflight. */
  cni: KubernetesObject[]
}

export type BootstrapContext = RunContext<BootstrapFacts, BootstrapParams>
export type BootstrapUnit = UnitContext<BootstrapFacts, BootstrapParams>

export function initialFacts(): BootstrapFacts {
  return {...seedFacts(), ...prepareFacts(), cni: []}
}

/** The control plane kubeadm init runs on: the first one in kp.yaml. */
export function firstControlPlane(ctx: Pick<BootstrapContext, 'config'>): NodeConfig {
  const first = controlPlanes(ctx.config.config)[0]
  if (!first) throw new Error('kp.yaml has no control plane (the schema requires one)')
  return first
}
