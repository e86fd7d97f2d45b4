/**
 * The lab's kubeadm and kubelets, driven by hand over SSH the way an operator (or kp bootstrap)
 * does: a 3-node lab from `kp lab up`, seeded and prepared by kp, kubeadm configs from kp's own
 * renderer written to /run/kp (tmpfs) through SSH's stdin, then init, the CNI stand-in applied with
 * the real kubectl, failing and succeeding joins, a silenced kubelet, a refused second init, a
 * reset — and no token or certificate key anywhere in the lab's logs or files. Needs root.
 *
 * kp.yaml allows no even number of control planes, so its second node (10.77.0.12) is renamed cp2
 * and joined as a control plane by hand; its role in kp.yaml only matters to kp's workflows.
 */
import {spawnSync} from 'node:child_process'
import {X509Certificate} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {connect} from 'node:tls'
import path from 'node:path'

import {parse as parseYaml, stringify as toYaml} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {loadConfig} from '../../../src/lib/config/load.js'
import type {KpConfig} from '../../../src/lib/config/schema.js'
import {generateBootstrapToken, generateCertificateKey, renderInitConfig, renderJoinConfig} from '../../../src/lib/kubeadm/index.js'
import {teardownLab} from '../../../src/lib/lab/host/index.js'
import {runKp, tempDir} from '../../helpers/cli.js'
import {isRoot, sh, SshClient, until} from '../host/helpers.js'

if (!isRoot) console.warn('test/lab/kubeadm/kubeadm-lab.test.ts: skipped, the lab needs root')
const hasKubectl = spawnSync('kubectl', ['version', '--client'], {stdio: 'ignore'}).status === 0

const CP1 = '10.77.0.11'
const CP2 = '10.77.0.12'
const W1 = '10.77.0.13'
const CERT_DAYS = 30
const started = Date.now()

describe.skipIf(!isRoot || !hasKubectl)('the lab kubeadm and kubelets', () => {
  const state = tempDir('kp-kubeadm-lab-')
  const lab = path.join(state, 'lab')
  const configFile = path.join(lab, 'kp.yaml')
  const adminConf = path.join(state, 'admin.conf')
  const kp = (args: string[], timeoutMs = 600_000) => runKp([...args, '--state-dir', state, '--config', configFile], {timeoutMs})
  let ssh: SshClient
  let config: KpConfig
  const secrets: string[] = []
  let caHash = ''

  const node = (name: string) => config.nodes.find((n) => n.name === name)!
  /** Writes a file as root through SSH's stdin (never argv), as kp does with kubeadm configs. */
  const put = async (ip: string, file: string, content: string) => {
    const wrote = await ssh.run(ip, `sudo sh -c 'umask 077; install -d -m 0700 /run/kp; cat > ${file}'`, {input: content})
    expect(wrote.code, wrote.stderr).toBe(0)
  }
  const kubeadm = (ip: string, args: string, input?: string) => ssh.run(ip, `sudo kubeadm ${args}`, {input, timeoutMs: 120_000})
  const kubectl = (...args: string[]) => sh('kubectl', ['--kubeconfig', adminConf, '--cache-dir', path.join(state, 'kube-cache'), ...args])
  const ready = async (name: string) => (await kubectl('get', 'node', name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')).stdout
  // Keys are ECDSA here: kubeadm's RSA-2048 would cost ~9 s of key generation per control plane.
  const fast = (text: string) => text.replace('encryptionAlgorithm: RSA-2048', 'encryptionAlgorithm: ECDSA-P256')
  const initConfig = (token: string, key: string) => fast(renderInitConfig(config, node('cp1'), {bootstrapToken: token, certificateKey: key}))
  const joinConfig = (name: string, controlPlane: boolean, input: {token: string; hash: string; key?: string}) =>
    renderJoinConfig(config, {...node(name), role: controlPlane ? 'control-plane' : 'worker'}, {bootstrapToken: input.token, caCertHashes: [input.hash], certificateKey: input.key})

  beforeAll(async () => {
    const up = await runKp(['lab', 'up', '--nodes', '3', '--cert-days', String(CERT_DAYS), '--state-dir', state], {timeoutMs: 20 * 60_000})
    expect(up.code, up.stderr + up.stdout).toBe(0)
    const doc = parseYaml(readFileSync(configFile, 'utf8')) as {nodes: Array<{name: string}>}
    doc.nodes[1]!.name = 'cp2'
    doc.nodes[2]!.name = 'w1'
    writeFileSync(configFile, toYaml(doc))
    config = (await loadConfig(configFile, {checkFiles: false, resolveSecrets: false})).config
    const seeded = await kp(['vm', 'seed'])
    expect(seeded.code, seeded.stderr + seeded.stdout).toBe(0)
    const prepared = await kp(['node', 'prepare'])
    expect(prepared.code, prepared.stderr + prepared.stdout).toBe(0)
    ssh = new SshClient(lab, path.join(lab, 'ssh', 'id_ed25519'), 'debian')
  }, 25 * 60_000)

  afterAll(async () => {
    console.log(`kubeadm-lab: ${((Date.now() - started) / 1000).toFixed(0)} s wall time`)
    await runKp(['lab', 'down', '--state-dir', state], {timeoutMs: 120_000})
    await teardownLab({stateDir: lab}, {purge: true}).catch(() => {})
  })

  it('kubeadm init on cp1 writes the PKI, kubeconfigs and manifests, and serves the API at the endpoint', async () => {
    const token = generateBootstrapToken()
    const key = generateCertificateKey()
    secrets.push(token.split('.')[1]!, key)
    await put(CP1, '/run/kp/kubeadm-init.yaml', initConfig(token, key))

    const unreadable = await ssh.run(CP1, 'kubeadm init --config /run/kp/kubeadm-init.yaml')
    expect(unreadable.code).toBe(1)
    expect(unreadable.stderr).toContain('unable to read config from "/run/kp/kubeadm-init.yaml" : open /run/kp/kubeadm-init.yaml: permission denied')
    // A copy the user can read (on a tmpfs, and gone at once) gets as far as the root check.
    const asUser = await ssh.run(CP1, 'sudo install -m 0600 -o debian /run/kp/kubeadm-init.yaml /dev/shm/init.yaml && kubeadm init --config /dev/shm/init.yaml; rc=$?; rm -f /dev/shm/init.yaml; exit $rc')
    expect(asUser.code).toBe(1)
    expect(asUser.stderr).toContain('[ERROR IsPrivilegedUser]: user is not running as root')

    const init = await kubeadm(CP1, 'init --config /run/kp/kubeadm-init.yaml --upload-certs')
    expect(init.code, init.stderr + init.stdout).toBe(0)
    expect(init.stdout).toContain('[certs] Generating "apiserver" certificate and key')
    expect(init.stdout).toContain(`[upload-certs] Using certificate key:\n${key}`)
    expect(init.stdout).toContain('Your Kubernetes control-plane has initialized successfully!')
    caHash = /--discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})/.exec(init.stdout)![1]!
    expect(init.stdout).toContain(`kubeadm join 10.77.0.10:6443 --token ${token} \\\n\t--discovery-token-ca-cert-hash ${caHash} \\\n\t--control-plane --certificate-key ${key}`)

    const modes = await ssh.ok(CP1, 'sudo stat -c "%a %n" /etc/kubernetes/pki/ca.crt /etc/kubernetes/pki/ca.key /etc/kubernetes/pki/sa.key /etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf /etc/kubernetes/kubelet.conf /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/manifests/etcd.yaml /var/lib/kubelet/config.yaml')
    expect(modes.trim().split('\n')).toEqual([
      '644 /etc/kubernetes/pki/ca.crt', '600 /etc/kubernetes/pki/ca.key', '600 /etc/kubernetes/pki/sa.key', '600 /etc/kubernetes/admin.conf', '600 /etc/kubernetes/super-admin.conf',
      '600 /etc/kubernetes/kubelet.conf', '600 /etc/kubernetes/manifests/kube-apiserver.yaml', '600 /etc/kubernetes/manifests/etcd.yaml', '644 /var/lib/kubelet/config.yaml',
    ])
    const days = (pem: string) => (Date.parse(new X509Certificate(pem).validTo) - Date.now()) / 86_400_000
    expect(days(await ssh.ok(CP1, 'sudo cat /etc/kubernetes/pki/apiserver.crt'))).toBeCloseTo(CERT_DAYS, 0)
    expect(days(await ssh.ok(CP1, 'sudo cat /etc/kubernetes/pki/ca.crt'))).toBeCloseTo(3650, 0)
    // The API server at the endpoint serves with a certificate of the same CA and the same lifetime.
    const served = await new Promise<string>((resolve, reject) => {
      const socket = connect({host: '10.77.0.10', port: 6443, rejectUnauthorized: false}, () => {
        resolve(socket.getPeerX509Certificate()!.toString())
        socket.end()
      })
      socket.on('error', reject)
    })
    expect(days(served)).toBeCloseTo(CERT_DAYS, 0)
    expect(new X509Certificate(served).checkIssued(new X509Certificate(await ssh.ok(CP1, 'sudo cat /etc/kubernetes/pki/ca.crt')))).toBe(true)
    expect((await ssh.ok(CP1, 'systemctl is-active kubelet')).trim()).toBe('active')

    writeFileSync(adminConf, await ssh.ok(CP1, 'sudo cat /etc/kubernetes/admin.conf'), {mode: 0o600})
    const nodes = await kubectl('get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name} {.status.nodeInfo.kubeletVersion} {.metadata.labels.node-role\\.kubernetes\\.io/control-plane}|{.spec.taints[0].key}{"\\n"}{end}')
    expect(nodes.code, nodes.stderr).toBe(0)
    expect(nodes.stdout.trim()).toBe('cp1 v1.31.8 |node-role.kubernetes.io/control-plane')
    await until('cp1 NotReady without a CNI', async () => (await ready('cp1')) !== 'True' && (await ready('cp1')) !== '')
    const system = await kubectl('get', 'deploy,ds,cm', '-n', 'kube-system', '-o', 'name')
    expect(system.stdout).toContain('deployment.apps/coredns')
    expect(system.stdout).toContain('daemonset.apps/kube-proxy')
  })

  it('applying the CNI stand-in with kubectl makes cp1 Ready', async () => {
    const applied = await kubectl('apply', '-f', path.join(lab, 'cni.yaml'))
    expect(applied.code, applied.stderr).toBe(0)
    await until('cp1 Ready', async () => (await ready('cp1')) === 'True', 30_000)
    expect(await ssh.ok(CP1, 'cat /etc/cni/net.d/10-kp-lab.conflist')).toContain('"type": "flannel"')
  })

  it('refuses joins with a wrong token, a wrong CA hash or a wrong certificate key, in kubeadm words', async () => {
    const created = await kubeadm(CP1, 'token create --print-join-command')
    expect(created.code, created.stderr).toBe(0)
    const token = /--token (\S+)/.exec(created.stdout)![1]!
    secrets.push(token.split('.')[1]!)
    expect(created.stdout).toBe(`kubeadm join 10.77.0.10:6443 --token ${token} --discovery-token-ca-cert-hash ${caHash} \n`)

    await put(W1, '/run/kp/kubeadm-join.yaml', joinConfig('w1', false, {hash: caHash, token: generateBootstrapToken()}))
    const unknown = await kubeadm(W1, 'join --config /run/kp/kubeadm-join.yaml')
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/^error execution phase preflight: couldn't validate the identity of the API Server: could not find a JWS signature in the cluster-info ConfigMap for token ID "[a-z0-9]{6}"\nTo see the stack trace/)

    await put(W1, '/run/kp/kubeadm-join.yaml', joinConfig('w1', false, {hash: `sha256:${'ab'.repeat(32)}`, token}))
    const pinned = await kubeadm(W1, 'join --config /run/kp/kubeadm-join.yaml')
    expect(pinned.code).toBe(1)
    expect(pinned.stderr).toContain(`cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "${caHash}" are pinned`)

    const staleKey = generateCertificateKey()
    await put(CP2, '/run/kp/kubeadm-join.yaml', joinConfig('cp2', true, {hash: caHash, key: staleKey, token}))
    const wrongKey = await kubeadm(CP2, 'join --config /run/kp/kubeadm-join.yaml')
    expect(wrongKey.code).toBe(1)
    expect(wrongKey.stderr).toContain('error execution phase control-plane-prepare/download-certs: error downloading certs: error decoding secret data with provided key: cipher: message authentication failed')
    // Nothing of the failed joins is left on the nodes.
    expect((await ssh.run(CP2, 'test -e /etc/kubernetes/kubelet.conf')).code).not.toBe(0)
  })

  it('token create and upload-certs let cp2 join as a control plane and w1 as a worker: 3 Ready nodes', async () => {
    const created = await kubeadm(CP1, 'token create --print-join-command --ttl 30m')
    const token = /--token (\S+)/.exec(created.stdout)![1]!
    const uploaded = await kubeadm(CP1, 'init phase upload-certs --upload-certs')
    expect(uploaded.code, uploaded.stderr).toBe(0)
    secrets.push(token.split('.')[1]!, /Using certificate key:\n([0-9a-f]{64})/.exec(uploaded.stdout)![1]!)
    // kp's way: the new token and key in a config file, never on a command line.
    const [cpToken, key] = [generateBootstrapToken(), generateCertificateKey()]
    secrets.push(cpToken.split('.')[1]!, key)
    await put(CP1, '/run/kp/kubeadm-secrets.yaml', initConfig(cpToken, key))
    const fromFile = await kubeadm(CP1, 'token create --config /run/kp/kubeadm-secrets.yaml --print-join-command')
    expect(fromFile.stdout, fromFile.stderr).toContain(`--token ${cpToken} `)
    const keyFromFile = await kubeadm(CP1, 'init phase upload-certs --upload-certs --config /run/kp/kubeadm-secrets.yaml')
    expect(keyFromFile.stdout, keyFromFile.stderr).toContain(`[upload-certs] Using certificate key:\n${key}\n`)
    await ssh.ok(CP1, 'sudo rm -f /run/kp/kubeadm-secrets.yaml')

    await put(CP2, '/run/kp/kubeadm-join.yaml', joinConfig('cp2', true, {hash: caHash, key, token: cpToken}))
    const cp = await kubeadm(CP2, 'join --config /run/kp/kubeadm-join.yaml')
    expect(cp.code, cp.stderr + cp.stdout).toBe(0)
    expect(cp.stdout).toContain('This node has joined the cluster and a new control plane instance was created:')
    await put(W1, '/run/kp/kubeadm-join.yaml', joinConfig('w1', false, {hash: caHash, token}))
    const worker = await kubeadm(W1, 'join --config /run/kp/kubeadm-join.yaml')
    expect(worker.code, worker.stderr + worker.stdout).toBe(0)
    expect(worker.stdout).toContain('This node has joined the cluster:')
    for (const ip of [CP1, CP2, W1]) await ssh.ok(ip, 'sudo rm -f /run/kp/kubeadm-init.yaml /run/kp/kubeadm-join.yaml')

    await until('3 Ready nodes', async () => (await Promise.all(['cp1', 'cp2', 'w1'].map(ready))).every((r) => r === 'True'), 30_000)
    const versions = await kubectl('get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.nodeInfo.kubeletVersion},{.status.addresses[0].address}{"\\n"}{end}')
    expect(versions.stdout.trim().split('\n')).toEqual(['cp1=v1.31.8,10.77.0.11', 'cp2=v1.31.8,10.77.0.12', 'w1=v1.31.8,10.77.0.13'])
    const mirrors = await kubectl('get', 'pods', '-n', 'kube-system', '-o', 'name')
    expect(mirrors.stdout).toContain('pod/kube-apiserver-cp2')
    expect(mirrors.stdout).toContain('pod/etcd-cp2')
  })

  it('a stopped kubelet turns its node NotReady, and kp lab fault --kubelet-down still works', async () => {
    await ssh.ok(W1, 'sudo systemctl stop kubelet')
    await until('w1 NotReady', async () => (await ready('w1')) !== 'True', 15_000)
    await ssh.ok(W1, 'sudo systemctl start kubelet')
    await until('w1 Ready again', async () => (await ready('w1')) === 'True', 15_000)
    expect((await runKp(['lab', 'fault', 'cp2', '--kubelet-down', '--state-dir', state])).code).toBe(0)
    await until('cp2 NotReady', async () => (await ready('cp2')) !== 'True', 15_000)
    expect((await runKp(['lab', 'fault', 'cp2', '--kubelet-up', '--state-dir', state])).code).toBe(0)
    await until('cp2 Ready again', async () => (await ready('cp2')) === 'True', 15_000)
  })

  it('refuses a second kubeadm init on cp1 (its files and ports are taken)', async () => {
    await put(CP1, '/run/kp/kubeadm-init.yaml', initConfig(generateBootstrapToken(), generateCertificateKey()))
    const again = await kubeadm(CP1, 'init --config /run/kp/kubeadm-init.yaml --upload-certs')
    await ssh.ok(CP1, 'sudo rm -f /run/kp/kubeadm-init.yaml')
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: /etc/kubernetes/manifests/kube-apiserver.yaml already exists')
    expect(again.stderr).toContain('[ERROR Port-6443]: Port 6443 is in use')
  })

  it('a restarted supervisor serves the cluster again', async () => {
    const etcd = await ssh.ok(CP1, 'sudo crictl ps --name etcd -q')
    expect(etcd).toMatch(/^[0-9a-f]{64}\n$/)
    const {pid} = JSON.parse(readFileSync(path.join(lab, 'supervisor.json'), 'utf8')) as {pid: number}
    process.kill(pid, 'SIGKILL')
    await until('the supervisor gone', async () => {
      try {
        process.kill(pid, 0)
        return false
      } catch {
        return true
      }
    })
    const up = await runKp(['lab', 'up', '--nodes', '3', '--cert-days', String(CERT_DAYS), '--state-dir', state], {timeoutMs: 120_000})
    expect(up.code, up.stderr + up.stdout).toBe(0)
    await until('3 Ready nodes again', async () => (await Promise.all(['cp1', 'cp2', 'w1'].map(ready))).every((r) => r === 'True'), 30_000)
    // The new supervisor's kubelet adopts the etcd still running in the VM instead of starting a second one.
    expect(await ssh.ok(CP1, 'sudo crictl ps --name etcd -q')).toBe(etcd)
    expect(readFileSync(path.join(lab, 'supervisor.log'), 'utf8')).toMatch(/kubelet cp1: etcd already running/)
    const join = await kubeadm(CP1, 'token create --print-join-command')
    expect(join.code, join.stderr).toBe(0)
    secrets.push(/--token \S+\.(\S+)/.exec(join.stdout)![1]!)
  })

  it('keeps no token or certificate key in calls.log, supervisor.log or the lab folder', async () => {
    expect(secrets.length).toBeGreaterThanOrEqual(5)
    const calls = (await Promise.all([CP1, CP2, W1].map((ip) => ssh.ok(ip, 'sudo cat /var/log/kp-lab/calls.log')))).join('\n')
    expect(calls).toContain('"cmd":"kubeadm","args":["init","--config","/run/kp/kubeadm-init.yaml","--upload-certs"]')
    for (const secret of secrets) expect(calls).not.toContain(secret)
    // The VMs' disks (their upper layers) are in the lab folder too; /run is a tmpfs in the VM.
    // The patterns come on stdin: a secret on grep's command line would be in the process list.
    const found = await sh('grep', ['-rlF', '--exclude-dir=root', '-f', '-', lab], {input: `${secrets.join('\n')}\n`})
    expect(found.code, found.stderr).toBe(1)
    expect(found.stdout, 'files holding a secret').toBe('')
  })

  it('kubeadm reset -f on w1 removes its files and stops its kubelet', async () => {
    const reset = await kubeadm(W1, 'reset -f')
    expect(reset.code, reset.stderr + reset.stdout).toBe(0)
    expect(reset.stdout).toContain('[reset] Stopping the kubelet service')
    expect((await ssh.run(W1, 'systemctl is-active kubelet')).stdout.trim()).toBe('inactive')
    expect((await ssh.ok(W1, 'sudo find /etc/kubernetes /var/lib/kubelet -type f')).trim()).toBe('')
    await until('w1 NotReady after reset', async () => (await ready('w1')) !== 'True', 15_000)
    const declined = await ssh.run(W1, 'sudo kubeadm reset', {input: 'n\n'})
    expect(declined.code).toBe(1)
    expect(declined.stdout).toContain('[reset] Are you sure you want to proceed? [y/N]: ')
    expect(declined.stderr).toContain('aborted reset operation')
  })
})
