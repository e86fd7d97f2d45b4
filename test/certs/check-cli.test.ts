/**
 * `kp certs check` and `kp health --deep --check certificates,node-state` end to end: the built
 * CLI, one real OpenSSH server listening on 127.0.15.1 to .4 as cp1, cp2, cp3 and w1, and real
 * TLS servers on each control plane's :6443 and :2379. On the "nodes", an `sh` double first on the
 * sudo PATH tells the node by the address the SSH client reached (SSH_CONNECTION) and maps
 * kubeadm's and the kubelet's paths into that node's temp root (and back in what it prints);
 * apt-mark, dpkg-query and systemctl doubles answer for the packages and the kubelet.
 */
import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {createServer, type Server} from 'node:tls'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {CertsReport} from '../../src/lib/certs/check.js'
import {parseEnvelope, runKp, tempDir} from '../helpers/cli.js'
import {cannotRunSshd, createUsers, hasSudo, Sshd, sudoPathFirst, type TestUsers} from '../ssh/sshd.js'
import {makeCas, makeLeaf, makeNodePki} from './pki.js'

const skip = cannotRunSshd() ?? (hasSudo ? undefined : 'needs sudo')
if (skip) console.warn(`skipping the kp certs check CLI test: ${skip}`)

const NODES = [
  {ip: '127.0.15.1', name: 'cp1', role: 'control-plane'},
  {ip: '127.0.15.2', name: 'cp2', role: 'control-plane'},
  {ip: '127.0.15.3', name: 'cp3', role: 'control-plane'},
  {ip: '127.0.15.4', name: 'w1', role: 'worker'},
] as const

describe.skipIf(skip)('kp certs check and kp health --deep against real files over a real sshd', () => {
  let dir: string
  let users: TestUsers
  let sshd: Sshd
  let config: string
  const keys: string[] = []
  const servers: Server[] = []
  const run = (args: string[]) => runKp([...args, '-c', config, '--state-dir', path.join(dir, 'state')], {env: {HOME: dir}, timeoutMs: 60_000})

  function serve(ip: string, port: number, tls: {cert: string; key: string}): Promise<void> {
    const server = createServer({cert: tls.cert, key: tls.key}, (socket) => socket.end())
    servers.push(server)
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, ip, () => resolve())
    })
  }

  function makeDoubles(bin: string): void {
    mkdirSync(bin, {recursive: true})
    const which = `case "$(echo "$SSH_CONNECTION" | cut -d' ' -f3)" in ${NODES.map((n) => `${n.ip}) node=${n.name} ;;`).join(' ')} *) echo "no node at $SSH_CONNECTION" >&2; exit 2 ;; esac`
    // Mapped once (the outer sh of sudo); the inner sh finds the paths already mapped.
    writeFileSync(
      path.join(bin, 'sh'),
      `#!/bin/bash
${which}
root=${dir}/nodes/$node
if [ -n "$KP_TEST_MAPPED" ]; then exec /bin/sh "$@"; fi
export KP_TEST_MAPPED=1
args=()
for a in "$@"; do
  a="\${a//\\/etc\\/kubernetes/$root/etc/kubernetes}"; a="\${a//\\/var\\/lib\\/kubelet/$root/var/lib/kubelet}"; a="\${a//\\/var\\/run\\/reboot-required/$root/var/run/reboot-required}"
  args+=("$a")
done
set -o pipefail
/bin/sh "\${args[@]}" | sed "s#$root##g"
`,
      {mode: 0o755},
    )
    writeFileSync(path.join(bin, 'apt-mark'), '#!/bin/sh\nprintf "kubeadm\\nkubectl\\nkubelet\\n"\n', {mode: 0o755})
    writeFileSync(path.join(bin, 'dpkg-query'), `#!/bin/bash\n${which}\n[ "$node" = w1 ] && [ "\${@: -1}" = kubelet ] && { printf 'ii 1.31.8-1.1'; exit 0; }\nprintf 'ii 1.31.9-1.1'\n`, {mode: 0o755})
    writeFileSync(path.join(bin, 'systemctl'), '#!/bin/sh\necho active\n', {mode: 0o755})
  }

  beforeAll(async () => {
    dir = tempDir('kp-certs-check-')
    chmodSync(dir, 0o755)
    users = createUsers()
    const bin = path.join(dir, 'bin')
    sudoPathFirst(users.sudoer, bin)
    makeDoubles(bin)
    const cas = makeCas(path.join(dir, 'cas'))
    for (const n of NODES) {
      const root = path.join(dir, 'nodes', n.name)
      // cp2's files were renewed (a year), but its API server still serves the old certificate, 3 days left.
      const leaves = makeNodePki(root, {apiserverSans: ['DNS:kubernetes', 'DNS:api.test.lan', `IP:${n.ip}`], cas, controlPlane: n.role === 'control-plane', days: 365, kubeletRotates: n.name !== 'w1'})
      for (const leaf of leaves.values()) keys.push(leaf.key)
      if (n.role === 'worker') continue
      const apiserver = n.name === 'cp2' ? makeLeaf(cas, 'ca', 'kube-apiserver', 3, ['DNS:api.test.lan', `IP:${n.ip}`]) : leaves.get('apiserver')!
      keys.push(apiserver.key)
      await serve(n.ip, 6443, apiserver)
      await serve(n.ip, 2379, leaves.get('etcd-server')!)
    }

    mkdirSync(path.join(dir, 'nodes', 'cp1', 'var', 'run'), {recursive: true})
    writeFileSync(path.join(dir, 'nodes', 'cp1', 'var', 'run', 'reboot-required'), '*** System restart required ***\n')
    writeFileSync(path.join(dir, 'nodes', 'cp1', 'var', 'run', 'reboot-required.pkgs'), 'linux-image-6.1.0-27-amd64\n')
    // 127.0.0.1 too: the harness waits for sshd to say it listens there.
    sshd = new Sshd({dir: path.join(dir, 'sshd'), listenAddresses: ['127.0.0.1', ...NODES.map((n) => n.ip)]})
    await sshd.start()
    const {key, type} = sshd.hostKey
    mkdirSync(path.join(dir, '.ssh'), {mode: 0o700})
    writeFileSync(path.join(dir, '.ssh', 'known_hosts'), NODES.map((n) => `[${n.ip}]:${sshd.port} ${type} ${key}\n`).join(''))
    config = path.join(dir, 'kp.yaml')
    writeFileSync(
      config,
      `cluster:
  name: certtest
  kubernetesVersion: 1.31.9
  controlPlaneEndpoint: api.test.lan:6443
  cni: {manifest: https://example.invalid/cni.yaml}
network:
  gateway: 127.0.0.254
  prefix: 8
  dns: [127.0.0.254]
ssh:
  user: ${users.sudoer}
  port: ${sshd.port}
  agent: false
  identityFile: ${sshd.clientKey}
nodes:
${NODES.map((n, i) => `  - {name: ${n.name}, role: ${n.role}, vmid: ${201 + i}, ip: ${n.ip}}`).join('\n')}
`,
    )
  }, 120_000)

  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
    await sshd?.stop()
    users?.remove()
  })

  it('a healthy control plane: every certificate listed, chained, served as on disk; exit 0', async () => {
    const {code, stdout, stderr} = await run(['certs', 'check', '--node', 'cp1'])
    expect(stderr).toBe('')
    const lines = stdout.split('\n')
    expect(lines[0]).toMatch(/^NODE +CERTIFICATE +EXPIRES +DAYS LEFT +CA OK +SERVED +STATUS$/)
    for (const name of ['ca (CA)', 'etcd-ca (CA)', 'front-proxy-ca (CA)', 'admin.conf', 'apiserver-etcd-client', 'etcd-peer', 'scheduler.conf', 'super-admin.conf', 'kubelet-client']) {
      const line = lines.find((l) => new RegExp(`^cp1 +${name.replaceAll(/[()]/g, '\\$&')} `).test(l))
      expect(line, name).toMatch(/ 364 +yes +- +OK$| 3649 +- +- +OK$/)
    }

    expect(lines.find((l) => / apiserver /.test(l))).toMatch(/ 364 +yes +same +OK$/)
    expect(lines.find((l) => / etcd-server /.test(l))).toMatch(/ 364 +yes +same +OK$/)
    expect(stdout).toContain('kp certs check certtest: OK (15 ok) on 1 node; the first to expire: cp1 admin.conf in 364 days')
    expect(code).toBe(0)
  })

  it('--json: the stable document; the old certificate still served on cp2 is CRITICAL (exit 2), a kubelet that does not rotate a WARNING', async () => {
    const {code, stdout} = await run(['certs', 'check', '--json'])
    const envelope = parseEnvelope<CertsReport>(stdout)
    expect(envelope).toMatchObject({command: 'certs check', ok: true})
    const report = envelope.result!
    expect(Object.keys(report)).toEqual(['cluster', 'status', 'exitCode', 'checkedAt', 'thresholds', 'nodes', 'certificates', 'summary'])
    expect(report).toMatchObject({cluster: 'certtest', exitCode: 2, status: 'CRITICAL', thresholds: {caWarnDays: 365, criticalDays: 7, warnDays: 30}})
    expect(report.nodes).toEqual([
      {address: '127.0.15.1', name: 'cp1', role: 'control-plane'},
      {address: '127.0.15.2', name: 'cp2', role: 'control-plane'},
      {address: '127.0.15.3', name: 'cp3', role: 'control-plane'},
      {address: '127.0.15.4', name: 'w1', role: 'worker'},
    ])
    expect(report.certificates).toHaveLength(3 * 15 + 1)
    const cp2 = report.certificates.find((c) => c.node === 'cp2' && c.name === 'apiserver')!
    expect(cp2).toMatchObject({chainsToCa: true, daysLeft: 364, served: {daysLeft: 2, match: false}, status: 'CRITICAL'})
    expect(cp2.problems).toEqual([expect.stringContaining('renewed on disk but the running server still serves the old certificate: restart its static pod (the API server (127.0.15.2:6443)')])
    expect(report.certificates.find((c) => c.node === 'w1')).toMatchObject({name: 'kubelet-client', rotates: false, status: 'WARNING'})
    expect(report.summary).toEqual({critical: 1, ok: 44, unknown: 0, warning: 1})
    expect(code).toBe(2)
  })

  it('never prints a private key, nor logs one with --verbose', async () => {
    const text = await run(['certs', 'check', '--verbose'])
    const json = await run(['certs', 'check', '--json', '--verbose'])
    expect(text.stderr).toContain('sudo sh -c') // the log is there, and holds the commands
    for (const out of [text.stdout, text.stderr, json.stdout, json.stderr]) {
      expect(out).not.toContain('PRIVATE KEY')
      for (const key of keys) expect(out).not.toContain(key.split('\n')[1]!)
    }
  })

  it('a node kp cannot reach is UNKNOWN (exit 3), named, while the others are still read; an unknown node is a usage error', async () => {
    await sshd.stop()
    try {
      const {code, stdout} = await run(['certs', 'check', '--node', 'w1'])
      expect(stdout).toMatch(/^w1: UNKNOWN kp cannot read its certificates over SSH: /m)
      expect(code).toBe(3)
    } finally {
      await sshd.start(sshd.port)
    }

    const usage = await run(['certs', 'check', '--node', 'nope'])
    expect(usage.stderr).toContain('kp.yaml has no node nope')
    expect(usage.code).toBe(2)
  })

  it('kp health --deep: the certificates and node-state checks name what is wrong, with their metrics; both refused without --deep', async () => {
    const {code, stdout} = await run(['health', '--deep', '--check', 'certificates,node-state', '--output', 'json'])
    const report = JSON.parse(stdout) as {checks: Array<{name: string; reason: string; status: string}>}
    const check = (name: string) => report.checks.find((c) => c.name === name)!
    expect(check('certificates').status).toBe('CRITICAL')
    expect(check('certificates').reason).toMatch(/^cp2 apiserver renewed on disk but the running server still serves the old certificate: restart its static pod/)
    expect(check('node-state').status).toBe('WARNING')
    expect(check('node-state').reason).toContain('cp1 waits for a reboot (linux-image-6.1.0-27-amd64)')
    expect(check('node-state').reason).toContain('w1 runs kubelet 1.31.8-1.1, not cluster.kubernetesVersion 1.31.9')
    expect(code).toBe(2)

    const prom = await run(['health', '--deep', '--check', 'certificates,node-state', '--output', 'prometheus'])
    expect(prom.stdout).toMatch(/^kp_certificate_expiry_seconds\{certificate="apiserver",cluster="certtest",node="cp2"\} 31\d{6}$/m)
    expect(prom.stdout).toMatch(/^kp_node_reboot_required\{cluster="certtest",node="cp1"\} 1$/m)
    expect(prom.stdout).toMatch(/^kp_node_disk_used_percent\{cluster="certtest",node="w1",path="\/"\} \d+$/m)
    expect(prom.stdout).toContain('kp_health_check_status{check="certificates",cluster="certtest"} 2')

    const shallow = await run(['health', '--check', 'certificates'])
    expect(shallow.stderr).toContain('the certificates check reads the nodes over SSH: it runs only with --deep')
    expect(shallow.code).toBe(2)
  })
})
