/**
 * A three-control-plane, two-worker kp.yaml for the kubeadm tests, parsed by kp's own schema so
 * the renderer sees what a real run would (the endpoint gets its port, subnets their defaults),
 * and the repository's golden-file convention (see test/playbooks/harness.ts).
 */
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {parseConfig} from '../../src/lib/config/validate.js'
import type {KpConfig, NodeConfig} from '../../src/lib/config/schema.js'

export function labConfig(kubernetesVersion: string): KpConfig {
  const node = (name: string, role: string, ip: string, vmid: number) => ({cores: 2, ip, memoryMiB: 4096, name, role, vmid})
  const result = parseConfig({
    cluster: {cni: {manifest: 'https://example.com/cni.yaml'}, controlPlaneEndpoint: 'K8s.Lab.lan', kubernetesVersion, name: 'lab'},
    network: {dns: ['10.0.10.1'], gateway: '10.0.10.1', prefix: 24},
    nodes: [
      node('cp1', 'control-plane', '10.0.10.11', 201),
      node('cp2', 'control-plane', '10.0.10.12', 202),
      node('cp3', 'control-plane', '10.0.10.13', 203),
      node('w1', 'worker', '10.0.10.21', 211),
      node('w2', 'worker', '10.0.10.22', 212),
    ],
    ssh: {user: 'debian'},
  })
  if (!result.ok) throw new Error(`test config does not parse: ${JSON.stringify(result.problems)}`)
  return result.config
}

export function nodeNamed(config: KpConfig, name: string): NodeConfig {
  const node = config.nodes.find((n) => n.name === name)
  if (!node) throw new Error(`no node ${name}`)
  return node
}

const goldenDir = path.join(import.meta.dirname, 'golden')

/** The expected content of test/kubeadm/golden/NAME; UPDATE_GOLDEN=1 writes `actual` there first. */
export function expectedGolden(name: string, actual: string): string {
  const file = path.join(goldenDir, name)
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(goldenDir, {recursive: true})
    writeFileSync(file, actual)
  }

  if (!existsSync(file)) throw new Error(`golden file ${name} is missing: run with UPDATE_GOLDEN=1 and review it`)
  return readFileSync(file, 'utf8')
}
