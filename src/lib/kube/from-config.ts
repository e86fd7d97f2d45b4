/** The Kubernetes connection a kp.yaml describes. */
import path from 'node:path'

import {clusterStateDir} from '../paths.js'
import type {LoadedConfig} from '../config/load.js'
import type {ConnectKubeOptions} from './client.js'
import type {Kube} from './types.js'

/** Where kp bootstrap keeps the cluster's admin kubeconfig (mode 0600) when kp.yaml names none. */
export function defaultKubeconfigPath(stateDir: string, cluster: string): string {
  return path.join(clusterStateDir(stateDir, cluster), 'admin.conf')
}

export function kubeconfigOf(loaded: LoadedConfig, stateDir: string): string {
  return loaded.config.cluster.kubeconfig ?? defaultKubeconfigPath(stateDir, loaded.config.cluster.name)
}

export async function kubeFromConfig(loaded: LoadedConfig, stateDir: string, options: Omit<ConnectKubeOptions, 'kubeconfig'> = {}): Promise<Kube> {
  const {connectKube} = await import('./client.js')
  return connectKube({...options, kubeconfig: kubeconfigOf(loaded, stateDir)})
}
