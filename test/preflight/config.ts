import {parseConfig} from '../../src/lib/config/validate.js'
import type {KpConfig} from '../../src/lib/config/schema.js'

export interface ConfigOverrides {
  endpoint?: string
  gateway?: string
  manifest?: string
  prefix?: number
  repoBase?: string
  version?: string
}

/** A parsed kp.yaml (1 control plane, 2 workers on 10.77.0.0/24) with the values a check looks at. */
export function preflightConfig(o: ConfigOverrides = {}): KpConfig {
  const parsed = parseConfig({
    cluster: {cni: {manifest: o.manifest ?? './cni.yaml'}, controlPlaneEndpoint: o.endpoint ?? '10.77.0.11', kubernetesVersion: o.version ?? '1.31.9', name: 'testlab'},
    network: {dns: ['10.77.0.1'], gateway: o.gateway ?? '10.77.0.1', prefix: o.prefix ?? 24},
    nodes: [
      {ip: '10.77.0.11', name: 'cp1', role: 'control-plane', vmid: 201},
      {ip: '10.77.0.21', name: 'w1', role: 'worker', vmid: 211},
      {ip: '10.77.0.22', name: 'w2', role: 'worker', vmid: 212},
    ],
    // The test repositories are served over http: their key is pinned, as kp.yaml then requires.
    ...(o.repoBase ? {packages: {kubernetesKeyFingerprint: '3F01618A51501E0B3B1A5AC540C87B3B7E389B2D', kubernetesRepoBase: o.repoBase}} : {}),
    ssh: {user: 'debian'},
  })
  if (!parsed.ok) throw new Error(`test config does not validate: ${parsed.problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ')}`)
  return parsed.config
}
