/**
 * bootstrap: from an empty Proxmox host to a working cluster. The vm-seed and node-prepare steps
 * are the very same steps those workflows run (with their fact-gathering steps renamed, since a
 * workflow's ids and titles are unique); kubeadm, the pod network and the joins follow. Reads like
 * runbooks/bootstrap.md.
 */
import path from 'node:path'

import type {Step} from '../../engine/types.js'
import {packageRoot} from '../../package-root.js'
import {nodePrepare} from '../node-prepare/index.js'
import {vmSeed} from '../vm-seed/index.js'
import {fetchAdminKubeconfig} from './admin-kubeconfig.js'
import {checkAddresses} from './addresses.js'
import {installCni} from './cni.js'
import {type BootstrapFacts, type BootstrapParams, initialFacts} from './facts.js'
import {checkHealth} from './health.js'
import {kubeadmInit} from './init.js'
import {joinControlPlanes, joinWorkers} from './join.js'
import {renderKubeadmConfig} from './kubeadm-config.js'
import {preflight} from './preflight.js'
import {waitReady} from './ready.js'

type AnyFactsStep = Step<never, never>

function renamed(step: AnyFactsStep, id: string, title: string): Step<BootstrapFacts, BootstrapParams> {
  return {...(step as unknown as Step<BootstrapFacts, BootstrapParams>), id, title}
}

const [seedFacts, ...seedSteps] = vmSeed.steps as unknown as Array<Step<BootstrapFacts, BootstrapParams>>
const [prepareFacts, ...prepareSteps] = nodePrepare.steps as unknown as Array<Step<BootstrapFacts, BootstrapParams>>

const nodeFacts: Step<BootstrapFacts, BootstrapParams> = {
  ...renamed(prepareFacts as AnyFactsStep, 'node-facts', 'Gather facts from the nodes'),
  async run(ctx) {
    // A dry run of a fresh bootstrap has no VMs to log in to yet: the node steps are planned blind.
    const missing = ctx.facts.nodes.filter((n) => !ctx.facts.vms[n.name]?.config).map((n) => n.name)
    if (ctx.dryRun && missing.length > 0) {
      ctx.log(`no VM yet for ${missing.join(', ')}: node facts are gathered once they exist`)
      return
    }

    await prepareFacts!.run(ctx)
  },
}

export const bootstrap = {
  initialFacts,
  name: 'bootstrap',
  runbookFile: path.join(packageRoot(), 'runbooks', 'bootstrap.md'),
  secrets: true,
  steps: [
    preflight,
    renamed(seedFacts as AnyFactsStep, 'proxmox-facts', 'Gather facts from Proxmox'),
    checkAddresses,
    ...seedSteps,
    nodeFacts,
    ...prepareSteps,
    renderKubeadmConfig,
    kubeadmInit,
    fetchAdminKubeconfig,
    installCni,
    joinControlPlanes,
    joinWorkers,
    waitReady,
    checkHealth,
  ],
  title: 'Bootstrap the cluster',
} satisfies import('../../engine/types.js').Workflow<BootstrapFacts, BootstrapParams>
