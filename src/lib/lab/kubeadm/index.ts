/**
 * The lab's kubeadm and kubelets, as the supervisor runs them: the agent the stub `kubeadm` talks
 * to (on the bridge address), the clusters kubeadm init made (their API servers on the
 * control-plane endpoint), and the kubelets that register nodes and report them Ready.
 */
import {existsSync} from 'node:fs'

import type {FakeKube} from '../kube/index.js'
import {type KubeadmAgent, startKubeadmAgent} from './agent.js'
import {LabClusters} from './clusters.js'
import {kubeadmHandler} from './commands.js'
import {LabKubelets, type LabVmState} from './kubelets.js'
import {LabStaticPods} from './static-pods.js'

export {LabKubelets} from './kubelets.js'
export type {LabVmState} from './kubelets.js'
export {LabStaticPods} from './static-pods.js'
export {etcdClientCredentials, etcdEndpoints, type EtcdCredentials} from './etcd.js'

/** Where the stubs reach the supervisor: the bridge address, this port. */
export const KUBEADM_AGENT_PORT = 6449
/** The control-plane endpoint the lab answers: a virtual IP on the bridge, in front of the control planes. */
export const LAB_ENDPOINT_IP = '10.77.0.10'

export interface LabKubeadmOptions {
  certDays: number
  /** The `kp lab up --cluster` demo API server, if any. */
  demo?: FakeKube
  /** `<lab>/kubeadm`. */
  dir: string
  host: string
  log: (line: string) => void
  port?: number
  vms: () => LabVmState[]
}

export interface LabKubeadm {
  agent: KubeadmAgent
  clusters: LabClusters
  close(): Promise<void>
  kubelets: LabKubelets
  pods: LabStaticPods
}

export async function startLabKubeadm(options: LabKubeadmOptions): Promise<LabKubeadm> {
  const clusters = new LabClusters({dir: options.dir, log: options.log})
  const pods = new LabStaticPods(options.log, (vm) => clusters.frontProxySocketOf(vm.vmid))
  const kubelets = new LabKubelets({clusters, demo: options.demo, log: options.log, pods, vms: options.vms})
  await clusters.restore()
  const findVm = (ip: string) => options.vms().find((vm) => vm.ip === ip && vm.booted && existsSync(vm.root))
  const handler = kubeadmHandler({certDays: options.certDays, clusters, log: options.log, pods, registerNode: async (vm) => kubelets.register(vm)}, findVm)
  const agent = await startKubeadmAgent({handler, host: options.host, log: options.log, port: options.port ?? KUBEADM_AGENT_PORT})
  kubelets.start()
  return {
    agent,
    clusters,
    async close() {
      kubelets.stop()
      pods.stopAll()
      await agent.close()
      await clusters.closeAll()
    },
    kubelets,
    pods,
  }
}
