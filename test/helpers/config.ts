import {chmodSync, writeFileSync} from 'node:fs'
import path from 'node:path'

export interface TestConfigOptions {
  cluster?: string
  /** cluster.kubeconfig: the admin kubeconfig kp uses (a fake API server's). */
  kubeconfig?: string
  /** Add a proxmox section whose token secret comes from this file (written with mode 0600). */
  tokenSecret?: string
}

/** A small valid kp.yaml in `dir`, for tests that need a cluster but no real infrastructure. */
export function writeTestConfig(dir: string, options: TestConfigOptions = {}): string {
  const file = path.join(dir, 'kp.yaml')
  const proxmox = options.tokenSecret
    ? `proxmox:
  endpoint: https://127.0.0.1:8006
  node: pve1
  tokenId: kp@pve!automation
  tokenSecret: {file: token.secret}
  insecureSkipTlsVerify: true
  templateVmid: 9000
`
    : ''
  if (options.tokenSecret) {
    const secretFile = path.join(dir, 'token.secret')
    writeFileSync(secretFile, options.tokenSecret + '\n', {mode: 0o600})
    chmodSync(secretFile, 0o600)
  }

  writeFileSync(
    file,
    `cluster:
  name: ${options.cluster ?? 'testlab'}
  kubernetesVersion: 1.31.9
  controlPlaneEndpoint: 10.77.0.11
  cni: {manifest: https://example.invalid/cni.yaml}
${options.kubeconfig ? `  kubeconfig: ${JSON.stringify(options.kubeconfig)}\n` : ''}${proxmox}network:
  gateway: 10.77.0.1
  prefix: 24
  dns: [10.77.0.1]
ssh:
  user: debian
nodes:
  - {name: cp1, role: control-plane, vmid: 201, ip: 10.77.0.11}
  - {name: w1, role: worker, vmid: 211, ip: 10.77.0.21}
`,
  )
  return file
}
