/**
 * bootstrap: from an empty Proxmox host to a working cluster. The vm-seed and node-prepare steps
 * are the very same steps those workflows run (their fact-gathering steps renamed, since a
 * workflow's ids and titles are unique); kubeadm, the pod network and the joins follow. Reads like
 * runbooks/bootstrap.md.
 */
import type {Workflow} from '../../engine/types.js'
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
} from '../node-prepare/steps.js'
import {verifyNode} from '../node-prepare/verify.js'
import {checkAddress} from '../vm-seed/address.js'
import {cloneTemplate} from '../vm-seed/clone.js'
import {configureVm} from '../vm-seed/configure.js'
import {waitForAgent} from '../vm-seed/guest-agent.js'
import {pinSshHostKey} from '../vm-seed/host-key.js'
import {rebootVm} from '../vm-seed/reboot.js'
import {resizeDisk} from '../vm-seed/resize.js'
import {waitForSshStep} from '../vm-seed/ssh.js'
import {startVm} from '../vm-seed/start.js'
import {fetchAdminKubeconfig} from './admin-kubeconfig.js'
import {checkAddresses} from './addresses.js'
import {installCni} from './cni.js'
import {type BootstrapFacts, type BootstrapParams, initialFacts} from './facts.js'
import {nodeFacts, proxmoxFacts} from './gather.js'
import {checkHealth} from './health.js'
import {kubeadmInit} from './init.js'
import {joinControlPlanes, joinWorkers} from './join.js'
import {renderKubeadmConfig} from './kubeadm-config.js'
import {preflight} from './preflight.js'
import {waitReady} from './ready.js'

export const bootstrap: Workflow<BootstrapFacts, BootstrapParams> = {
  initialFacts,
  name: 'bootstrap',
  secrets: true,
  steps: [
    preflight,
    proxmoxFacts,
    checkAddresses,
    cloneTemplate,
    configureVm,
    resizeDisk,
    startVm,
    rebootVm,
    waitForAgent,
    checkAddress,
    pinSshHostKey,
    waitForSshStep,
    nodeFacts,
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
}
