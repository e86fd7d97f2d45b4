/**
 * kp node prepare against the lab: three VMs seeded by kp vm seed, prepared over real SSH with real
 * apt and dpkg, then inspected from outside with the OpenSSH client and the stubs' call logs. Also
 * the SSH layer's host-key refusals and reboot handling against the VMs' real sshd. Needs root.
 */
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {parse as parseYaml, stringify as toYaml} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {teardownLab} from '../../src/lib/lab/host/index.js'
import {createSshPool} from '../../src/lib/ssh/index.js'
import {parseEnvelope, runKp, spawnKp, tempDir} from '../helpers/cli.js'
import {isRoot, SshClient} from '../lab/host/helpers.js'

if (!isRoot) console.warn('test/node/node-prepare-lab.test.ts: skipped, the lab needs root')

const NODES = [
  {ip: '10.77.0.11', name: 'cp1'},
  {ip: '10.77.0.12', name: 'w1'},
  {ip: '10.77.0.13', name: 'w2'},
]
const VERSION = '1.31.8'

interface RunResultJson {
  changed: number
  steps: Array<{id: string; units: Array<{changed: boolean; status: string; target?: string}>}>
}

describe.skipIf(!isRoot)('kp node prepare against the lab', () => {
  const state = tempDir('kp-node-lab-')
  const lab = path.join(state, 'lab')
  const config = path.join(lab, 'kp.yaml')
  const kp = (args: string[], options: {config?: string; timeoutMs?: number} = {}) =>
    runKp([...args, '--state-dir', state, '--config', options.config ?? config], {timeoutMs: options.timeoutMs ?? 600_000})
  let ssh: SshClient
  const accepted = async () => Object.fromEntries(await Promise.all(NODES.map(async (n) => [n.name, Number((await ssh.ok(n.ip, 'sudo grep -c "Accepted publickey" /var/log/kp-lab/sshd.log || true')).trim())] as const)))

  beforeAll(async () => {
    const up = await runKp(['lab', 'up', '--nodes', '3', '--state-dir', state], {timeoutMs: 20 * 60_000})
    expect(up.code, up.stderr + up.stdout).toBe(0)
    const seeded = await kp(['vm', 'seed'])
    expect(seeded.code, seeded.stderr + seeded.stdout).toBe(0)
    ssh = new SshClient(lab, path.join(lab, 'ssh', 'id_ed25519'), 'debian')
  }, 25 * 60_000)

  afterAll(async () => {
    await runKp(['lab', 'down', '--state-dir', state], {timeoutMs: 120_000})
    await teardownLab({stateDir: lab}, {purge: true}).catch(() => {})
  })

  it('--dry-run says what each step would change on each node, and changes nothing', async () => {
    const before = await ssh.ok('10.77.0.11', 'cat /etc/fstab; ls /etc/containerd 2>&1 || true')
    const plan = await kp(['node', 'prepare', '--dry-run'])
    expect(plan.code, plan.stderr + plan.stdout).toBe(0)
    expect(plan.stdout).toMatch(/swap/i)
    for (const n of NODES) expect(plan.stdout).toContain(n.name)
    expect(await ssh.ok('10.77.0.11', 'cat /etc/fstab; ls /etc/containerd 2>&1 || true')).toBe(before)
  })

  it('prepares three nodes over one SSH connection each', async () => {
    const connectionsBefore = await accepted()
    const prepared = await kp(['node', 'prepare', '--json'])
    expect(prepared.code, prepared.stderr + prepared.stdout).toBe(0)
    const connectionsAfter = await accepted()
    // The OpenSSH client used by accepted() itself adds one login per node each time it counts.
    for (const n of NODES) expect(connectionsAfter[n.name]! - connectionsBefore[n.name]!, n.name).toBe(2)
    const result = parseEnvelope<RunResultJson>(prepared.stdout).result!
    expect(result.changed).toBeGreaterThan(0)
  })

  it('leaves each node as kubeadm needs it, seen from inside', async () => {
    for (const n of NODES) {
      const config = await ssh.ok(n.ip, 'sudo cat /etc/containerd/config.toml')
      expect(config).toContain('SystemdCgroup = true')
      expect(config).not.toContain('SystemdCgroup = false')
      expect(config).toContain('sandbox_image = "registry.k8s.io/pause:3.10"')
      // The rest is containerd's own default, not a template of ours.
      const fresh = await ssh.ok(n.ip, 'containerd config default')
      expect(config.replace('SystemdCgroup = true', 'SystemdCgroup = false').replace('registry.k8s.io/pause:3.10', fresh.match(/sandbox_image = "([^"]+)"/)![1]!)).toBe(fresh)

      expect(await ssh.ok(n.ip, 'cat /etc/fstab')).toMatch(/^#kp-disabled: \/swap\.img\s+none\s+swap/m)
      expect(await ssh.ok(n.ip, 'cat /etc/modules-load.d/k8s.conf')).toMatch(/overlay[\s\S]*br_netfilter/)
      expect(await ssh.ok(n.ip, 'cat /etc/sysctl.d/99-kubernetes.conf')).toContain('net.ipv4.ip_forward = 1')
      expect((await ssh.ok(n.ip, 'apt-mark showhold')).trim().split('\n').sort()).toEqual(['cri-tools', 'kubeadm', 'kubectl', 'kubelet'])
      expect((await ssh.ok(n.ip, "dpkg-query -W -f='${Version}\\n' kubelet kubeadm kubectl")).trim().split('\n')).toEqual([`${VERSION}-1.1`, `${VERSION}-1.1`, `${VERSION}-1.1`])
      expect((await ssh.ok(n.ip, 'hostname')).trim()).toBe(n.name)

      const calls = (await ssh.ok(n.ip, 'cat /var/log/kp-lab/calls.log')).trim().split('\n').map((l) => JSON.parse(l) as {args: string[]; cmd: string})
      const said = (cmd: string, ...args: string[]) => calls.some((c) => c.cmd === cmd && args.every((a) => c.args.includes(a)))
      expect(said('swapoff', '-a'), 'swapoff -a').toBe(true)
      expect(said('modprobe', 'br_netfilter'), 'modprobe br_netfilter').toBe(true)
      expect(said('sysctl', '--system'), 'sysctl --system').toBe(true)
      // containerd's own postinst enables it (deb-systemd-helper); kp restarts it for the new config.
      expect(said('systemctl', 'restart', 'containerd'), 'systemctl restart containerd').toBe(true)
      expect((await ssh.ok(n.ip, 'systemctl is-enabled containerd; systemctl is-active containerd')).trim().split('\n')).toEqual(['enabled', 'active'])
      // The kubelet package's postinst enables it too; kp's step checks it and asked the stub.
      expect(said('systemctl', 'is-enabled', 'kubelet'), 'systemctl is-enabled kubelet').toBe(true)
      expect((await ssh.ok(n.ip, 'systemctl is-enabled kubelet')).trim()).toBe('enabled')
    }
  })

  it('a second run reports zero changes and installs nothing', async () => {
    const dpkgBefore = await Promise.all(NODES.map((n) => ssh.ok(n.ip, 'wc -l < /var/log/dpkg.log')))
    const again = await kp(['node', 'prepare', '--json'])
    expect(again.code, again.stderr + again.stdout).toBe(0)
    expect(parseEnvelope<RunResultJson>(again.stdout).result!.changed).toBe(0)
    expect(await Promise.all(NODES.map((n) => ssh.ok(n.ip, 'wc -l < /var/log/dpkg.log')))).toEqual(dpkgBefore)
  })

  it('kill -9 during the containerd step, then kp resume: the same end state', async () => {
    // A node to prepare from scratch: seed a fourth VM.
    const doc = parseYaml(readFileSync(config, 'utf8')) as {nodes: Array<Record<string, unknown>>}
    doc.nodes.push({ip: '10.77.0.14', name: 'w3', role: 'worker', vmid: 204})
    const more = path.join(lab, 'more.yaml')
    writeFileSync(more, toYaml(doc))
    expect((await kp(['vm', 'seed', 'w3'], {config: more})).code).toBe(0)

    const {child, done} = spawnKp(['node', 'prepare', 'w3', '--state-dir', state, '--config', more])
    const runs = path.join(state, 'runs')
    for (let i = 0; ; i++) {
      const inContainerd = readdirSync(runs).some((d) => {
        try {
          const j = JSON.parse(readFileSync(path.join(runs, d, 'journal.json'), 'utf8')) as {status: string; steps: Array<{id: string; units: Array<{status: string}>}>}
          return j.status === 'running' && j.steps.find((s) => s.id === 'containerd')?.units.some((u) => u.status === 'running')
        } catch {
          return false
        }
      })
      if (inContainerd) break
      expect(i, 'the containerd step never started').toBeLessThan(3000)
      await sleep(20)
    }

    await sleep(300) // into apt-get, usually
    child.kill('SIGKILL')
    await done
    const resumed = await runKp(['resume', '--state-dir', state], {timeoutMs: 600_000})
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0)
    const config3 = await ssh.ok('10.77.0.14', 'sudo cat /etc/containerd/config.toml')
    expect(config3).toBe(await ssh.ok('10.77.0.11', 'sudo cat /etc/containerd/config.toml'))
    expect((await ssh.ok('10.77.0.14', 'systemctl is-active containerd')).trim()).toBe('active')
    expect((await ssh.ok('10.77.0.14', 'apt-mark showhold')).trim().split('\n').sort()).toEqual(['cri-tools', 'kubeadm', 'kubectl', 'kubelet'])
  })

  it('refuses an unknown host key without a terminal, showing its fingerprint (exit 2)', async () => {
    const doc = parseYaml(readFileSync(config, 'utf8')) as {ssh: Record<string, unknown>}
    doc.ssh.knownHostsFile = './empty_known_hosts'
    writeFileSync(path.join(lab, 'empty_known_hosts'), '')
    const fresh = path.join(lab, 'fresh-keys.yaml')
    writeFileSync(fresh, toYaml(doc))
    const refused = await kp(['node', 'prepare', 'cp1'], {config: fresh})
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/SHA256:[A-Za-z0-9+/]{43}/)
    expect(readFileSync(path.join(lab, 'empty_known_hosts'), 'utf8')).toBe('')
  })

  it('refuses loudly when a host key changed, and changes nothing', async () => {
    await ssh.ok('10.77.0.13', 'sudo sh -c "rm /etc/ssh/ssh_host_*; ssh-keygen -A >/dev/null; systemctl reload ssh"')
    const hostsBefore = await new SshClient(lab, path.join(lab, 'ssh', 'id_ed25519'), 'debian').run('10.77.0.13', 'true')
    expect(hostsBefore.code).not.toBe(0) // the OpenSSH client refuses it too
    const refused = await kp(['node', 'prepare', 'w2'])
    expect(refused.code).toBe(4)
    expect(refused.stderr).toMatch(/HOST IDENTIFICATION HAS CHANGED|host key .*changed/i)
  })

  it('rebootAndWait sees the connection drop and a new boot id; a VM that stays down times out clearly', async () => {
    const pool = createSshPool({agent: false, identityFile: path.join(lab, 'ssh', 'id_ed25519'), knownHostsFile: path.join(lab, 'known_hosts')})
    try {
      const session = await pool.session({host: '10.77.0.12', name: 'w1', port: 22, user: 'debian'})
      const before = await session.bootId()
      const rebooted = await session.rebootAndWait({timeoutMs: 60_000})
      expect(rebooted.bootId).not.toBe(before)
      expect(await session.bootId()).toBe(rebooted.bootId)

      expect((await runKp(['lab', 'fault', 'w1', '--reboot-delay', '30', '--state-dir', state])).code).toBe(0)
      const error = await session.rebootAndWait({timeoutMs: 5000}).then(
        () => undefined,
        (e: unknown) => e as Error,
      )
      expect(error?.message).toMatch(/w1.*(did not come back|not back)/i)
    } finally {
      await pool.closeAll()
      await runKp(['lab', 'fault', '--clear', '--state-dir', state])
    }
  })
})
