/** node-prepare: turn fresh cloud-init VMs into nodes ready for kubeadm. Reads like runbooks/node-prepare.md. */
import type {Workflow} from '../../engine/types.js'
import {gatherFacts, initialFacts, type PrepareFacts, type PrepareParams} from './facts.js'
import {
  addKubernetesRepo,
  enableKubelet,
  installContainerd,
  installKubernetesPackages,
  loadModules,
  pointCrictl,
  setHostname,
  setKernelParameters,
  turnSwapOff,
} from './steps.js'
import {verifyNode} from './verify.js'

export const nodePrepare: Workflow<PrepareFacts, PrepareParams> = {
  initialFacts,
  name: 'node-prepare',
  steps: [
    gatherFacts,
    setHostname,
    turnSwapOff,
    loadModules,
    setKernelParameters,
    installContainerd,
    addKubernetesRepo,
    installKubernetesPackages,
    enableKubelet,
    pointCrictl,
    verifyNode,
  ],
  title: 'Prepare the nodes',
}
