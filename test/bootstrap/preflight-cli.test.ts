/**
 * kp bootstrap refuses bad input in its first step, before Proxmox is asked to do anything: an
 * unsupported Kubernetes version, a CNI manifest that is not there, an endpoint outside the node
 * network. Run the way a user runs it, against the Proxmox fake, whose VMs are counted afterwards.
 */
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {parseEnvelope, runKp, tempDir} from '../helpers/cli.js'
import {startLab, TOKEN, type Lab} from '../proxmox/helpers.js'

const CNI = `apiVersion: v1
kind: Namespace
metadata: {name: kube-flannel}
`

describe('kp bootstrap preflight', () => {
  let pve: Lab
  const dir = tempDir('kp-bootstrap-preflight-')

  beforeAll(async () => {
    pve = await startLab()
    writeFileSync(path.join(dir, 'token.secret'), `${TOKEN.secret}\n`, {mode: 0o600})
    writeFileSync(path.join(dir, 'cni.yaml'), CNI)
  })

  afterAll(async () => {
    await pve.close()
  })

  function config(name: string, cluster: {cni?: string; endpoint?: string; version?: string} = {}): string {
    const file = path.join(dir, `${name}.yaml`)
    writeFileSync(
      file,
      `cluster:
  name: pre
  kubernetesVersion: ${cluster.version ?? '1.31.8'}
  controlPlaneEndpoint: ${cluster.endpoint ?? '10.77.0.10:6443'}
  cni: {manifest: ${cluster.cni ?? './cni.yaml'}}
proxmox:
  endpoint: ${new URL(pve.server.apiUrl).origin}
  node: pve1
  tokenId: ${TOKEN.id}
  tokenSecret: {file: ./token.secret}
  fingerprint: ${pve.server.fingerprint}
  templateVmid: 9000
network: {gateway: 10.77.0.1, prefix: 24, dns: [10.77.0.1]}
ssh: {user: debian}
nodes:
  - {name: cp1, role: control-plane, vmid: 201, ip: 10.77.0.11}
  - {name: w1, role: worker, vmid: 202, ip: 10.77.0.12}
`,
    )
    return file
  }

  const bootstrap = (file: string) => runKp(['bootstrap', '--yes', '--json', '--config', file, '--state-dir', path.join(dir, 'state')])
  const cases = [
    {name: 'an unsupported Kubernetes version', file: () => config('old', {version: '1.27.3'}), says: /1\.27\.3.*not supported/},
    {name: 'a CNI manifest that does not exist', file: () => config('nocni', {cni: './missing-cni.yaml'}), says: /missing-cni\.yaml/},
    {name: 'a control-plane endpoint outside the node network', file: () => config('far', {endpoint: '192.168.99.10:6443'}), says: /192\.168\.99\.10/},
  ]

  for (const c of cases) {
    it(`refuses ${c.name} before any VM is touched (exit 2)`, async () => {
      const requestsBefore = pve.server.requestLog.length
      const result = await bootstrap(c.file())
      expect(result.code, result.stdout + result.stderr).toBe(2)
      const envelope = parseEnvelope(result.stdout)
      expect(envelope.error?.message).toMatch(c.says)
      expect(envelope.error?.message).toMatch(/nothing was changed/)
      expect(result.stderr).not.toMatch(/\n\s+at /)
      expect(pve.server.vms().map((vm) => vm.vmid)).toEqual([9000])
      // Not one request reached Proxmox: the refusal came first.
      expect(pve.server.requestLog.length).toBe(requestsBefore)
    })
  }
})
