/**
 * The lab kubeadm's upgrade on a real lab of one control plane and one worker at 1.30: kubeadm
 * 1.31 installed by apt from the 1.31 repository, its version checks refused in kubeadm's words,
 * `upgrade plan`, an `upgrade apply` that fails half-way under `kp lab fault --upgrade-apply-fails`
 * and rolls back (the manifests restored, the API server at 1.30 again), then the real apply, and
 * `upgrade node` on the worker; the kubelets at 1.31 after apt and a restart, as the real kubectl
 * shows them. Needs root.
 */
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {teardownLab} from '../../../src/lib/lab/host/index.js'
import {runKp, tempDir} from '../../helpers/cli.js'
import {isRoot, SshClient, until} from '../host/helpers.js'
import {labKubectl} from '../kube/helpers.js'

if (!isRoot) console.warn('test/lab/kubeadm/upgrade-lab.test.ts: skipped, the lab needs root')

const CP = '10.77.0.11'
const W1 = '10.77.0.12'
const started = Date.now()

describe.skipIf(!isRoot)('kubeadm upgrade in the lab, 1.30 → 1.31', () => {
  const state = tempDir('kp-upgrade-lab-')
  const lab = path.join(state, 'lab')
  const config = path.join(lab, 'kp.yaml')
  const kubectl = labKubectl(path.join(state, 'clusters', 'lab', 'admin.conf'))
  const kp = (args: string[], timeoutMs = 900_000) => runKp([...args, '--state-dir', state, '--config', config], {timeoutMs})
  let ssh: SshClient
  /** apt from the 1.31 repository, held packages released as kp's workflow does (kubeadm 1.31 needs cri-tools >= 1.31.0: it comes along). */
  const install = (ip: string, packages: string) =>
    ssh.ok(ip, `sudo sed -i 's#/v1.30/deb#/v1.31/deb#' /etc/apt/sources.list.d/* && sudo apt-get update -qq && `
      + `sudo apt-get install -y -qq --allow-change-held-packages ${packages}`, 180_000)
  const serverVersion = async () => (JSON.parse((await kubectl(['version', '-o', 'json'])).stdout || '{}') as {serverVersion?: {gitVersion?: string}}).serverVersion?.gitVersion
  const image = async (pod: string) => (await kubectl(['-n', 'kube-system', 'get', 'pod', pod, '-o', 'jsonpath={.spec.containers[0].image}'])).stdout
  const manifestImage = async (component: string) => /image:\s*(\S+)/.exec(await ssh.ok(CP, `sudo cat /etc/kubernetes/manifests/${component}.yaml`))?.[1]
  const kubeletVersions = async () => (await kubectl(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.nodeInfo.kubeletVersion} {end}'])).stdout.trim()
  /** kubeadm calls in the VM's calls log (argv as JSON: `"upgrade","apply"`). */
  const calls = async (ip: string, sub: string) => (await ssh.ok(ip, 'sudo cat /var/log/kp-lab/calls.log')).split('\n').filter((l) => l.includes(`"upgrade","${sub}"`)).length

  beforeAll(async () => {
    const up = await runKp(['lab', 'up', '--nodes', '2', '--control-planes', '1', '--kubernetes-version', '1.30.14', '--state-dir', state], {timeoutMs: 20 * 60_000})
    expect(up.code, up.stderr + up.stdout).toBe(0)
    ssh = new SshClient(lab, path.join(lab, 'ssh', 'id_ed25519'), 'debian')
    const boot = await kp(['bootstrap', '--yes'], 20 * 60_000)
    expect(boot.code, boot.stderr + boot.stdout).toBe(0)
  }, 40 * 60_000)

  afterAll(async () => {
    console.log(`upgrade-lab: ${((Date.now() - started) / 1000).toFixed(0)} s wall time`)
    await runKp(['lab', 'down', '--state-dir', state], {timeoutMs: 120_000})
    await teardownLab({stateDir: lab}, {purge: true}).catch(() => {})
  })

  it('refuses in kubeadm words, plans, fails half-way and rolls back under the fault, then upgrades; kubelets follow their packages', async () => {
    expect(await serverVersion()).toBe('v1.30.14')
    // kubeadm 1.30 cannot go to 1.31; kubeadm 1.31.8 cannot go to 1.31.9 nor skip to 1.32.
    const old = await ssh.run(CP, 'sudo kubeadm upgrade apply v1.31.9 --yes', {timeoutMs: 60_000})
    expect(old.code).toBe(1)
    expect(old.stderr).toContain('Specified version to upgrade to "v1.31.9" is at least one minor release higher than the kubeadm minor release (31 > 30). Such an upgrade is not supported')
    await install(CP, 'kubeadm=1.31.8-1.1 cri-tools')
    const patch = await ssh.run(CP, 'sudo kubeadm upgrade apply v1.31.9 --yes', {timeoutMs: 60_000})
    expect(patch.code).toBe(1)
    expect(patch.stderr).toContain('Specified version to upgrade to "v1.31.9" is higher than the kubeadm version "v1.31.8". Upgrade kubeadm first using the tool you used to install kubeadm')
    const skip = await ssh.run(CP, 'sudo kubeadm upgrade apply v1.32.5 --yes', {timeoutMs: 60_000})
    expect(skip.stderr).toContain('Specified version to upgrade to "v1.32.5" is too high; kubeadm can upgrade only 1 minor version at a time')
    await install(CP, 'kubeadm=1.31.9-1.1 cri-tools')

    const plan = await ssh.run(CP, 'sudo kubeadm upgrade plan', {timeoutMs: 60_000})
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stdout).toMatch(/kube-apiserver\s+cp1\s+v1\.30\.14\s+v1\.31\.9/)
    expect(plan.stdout).toMatch(/kubelet\s+w1\s+v1\.30\.14\s+v1\.31\.9/)
    expect(plan.stdout).toContain('kubeadm upgrade apply v1.31.9')

    // Without --yes it asks; no answer is no.
    const asked = await ssh.run(CP, 'sudo kubeadm upgrade apply v1.31.9 </dev/null', {timeoutMs: 60_000})
    expect(asked.code).toBe(1)
    expect(asked.stdout).toContain('[upgrade/confirm] Are you sure you want to proceed? [y/N]: ')
    expect(await manifestImage('kube-apiserver')).toBe('registry.k8s.io/kube-apiserver:v1.30.14')

    // The fault: half-way, then back.
    expect((await kp(['lab', 'fault', 'cp1', '--upgrade-apply-fails'])).code).toBe(0)
    const failed = await ssh.run(CP, 'sudo kubeadm upgrade apply v1.31.9 --yes', {timeoutMs: 120_000})
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain("[upgrade/apply] FATAL: couldn't upgrade control plane. kubeadm has tried to recover everything into the earlier state. Errors faced:")
    expect(failed.stdout).toContain('Moving new manifest to "/etc/kubernetes/manifests/kube-apiserver.yaml"')
    expect(failed.stdout).not.toContain('Component "kube-controller-manager" upgraded successfully!')
    expect(await manifestImage('kube-apiserver')).toBe('registry.k8s.io/kube-apiserver:v1.30.14')
    expect(await ssh.ok(CP, 'sudo ls /etc/kubernetes/tmp')).toContain('kubeadm-backup-manifests-')
    await until('the old kube-apiserver serving again', async () => (await image('kube-apiserver-cp1')) === 'registry.k8s.io/kube-apiserver:v1.30.14' && (await serverVersion()) === 'v1.30.14', 60_000)
    expect((await kp(['lab', 'fault', '--clear'])).code).toBe(0)

    const applied = await ssh.run(CP, 'sudo kubeadm upgrade apply v1.31.9 --yes', {timeoutMs: 180_000})
    expect(applied.code, applied.stderr + applied.stdout).toBe(0)
    expect(applied.stdout).toContain('[upgrade/successful] SUCCESS! Your cluster was upgraded to "v1.31.9". Enjoy!')
    for (const c of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) expect(await manifestImage(c)).toBe(`registry.k8s.io/${c}:v1.31.9`)
    await until('the API server at v1.31.9', async () => (await serverVersion()) === 'v1.31.9', 60_000)
    expect(await image('kube-apiserver-cp1')).toBe('registry.k8s.io/kube-apiserver:v1.31.9')
    expect((await kubectl(['-n', 'kube-system', 'get', 'cm', 'kubeadm-config', '-o', 'jsonpath={.data.ClusterConfiguration}'])).stdout).toContain('kubernetesVersion: v1.31.9')

    // The worker: a kubeadm older than the cluster is refused, then upgrade node.
    const tooOld = await ssh.run(W1, 'sudo kubeadm upgrade node', {timeoutMs: 60_000})
    expect(tooOld.code).toBe(1)
    expect(tooOld.stderr).toContain('Upgrade kubeadm first')
    await install(W1, 'kubeadm=1.31.9-1.1 cri-tools')
    const node = await ssh.run(W1, 'sudo kubeadm upgrade node', {timeoutMs: 60_000})
    expect(node.code, node.stderr).toBe(0)
    expect(node.stdout).toContain('[upgrade] The configuration for this node was successfully updated!')

    // Kubelets: the package, then a restart, and kubectl shows it.
    expect(await kubeletVersions()).toBe('cp1=v1.30.14 w1=v1.30.14')
    for (const ip of [CP, W1]) {
      await install(ip, 'kubelet=1.31.9-1.1 kubectl=1.31.9-1.1')
      await ssh.ok(ip, 'sudo systemctl restart kubelet')
    }

    await until('kubelets at v1.31.9', async () => (await kubeletVersions()) === 'cp1=v1.31.9 w1=v1.31.9', 60_000)
    expect((await kubectl(['get', 'nodes'])).stdout).toMatch(/w1\s+Ready\s+<none>\s+\S+\s+v1\.31\.9/)
    expect(await calls(CP, 'apply')).toBe(6)
    expect(await calls(W1, 'node')).toBe(2)
  }, 20 * 60_000)
})
