/**
 * The lab's kubeadm PKI and node files, checked with the openssl CLI and the real kubectl: every
 * leaf verifies against its CA for its purpose, subjects, SANs, usages and lifetimes are kubeadm's,
 * modes are kubeadm's, the CA is loaded rather than remade, and the fake API server started on the
 * CA folder accepts the admin.conf written for a node while refusing one from another cluster.
 */
import {execFile} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse, stringify} from 'yaml'

import {ensurePki, startFakeKube} from '../../src/lib/lab/kube/index.js'
import {etcdImage} from '../../src/lib/lab/kubeadm/manifests.js'
import {controlPlaneFiles, type LabClusterSpec, type NodeFiles, subnetAddress, workerFiles} from '../../src/lib/lab/kubeadm/node-files.js'
import {type ClusterCa, ensureClusterCa} from '../../src/lib/lab/kubeadm/pki.js'
import {KUBECTL, kubectl} from '../lab/kube/helpers.js'

const run = promisify(execFile)
const DAY = 86_400_000

const SPEC: LabClusterSpec = {
  certSans: ['k8s.lab.lan', '10.10.0.11', '10.10.0.12'],
  clusterName: 'lab',
  endpoint: 'k8s.lab.lan:6443',
  kubeletConfigYaml: 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\nmaxPods: 50\n',
  kubernetesVersion: '1.31.8',
  podSubnet: '10.244.0.0/16',
  serviceSubnet: '10.96.0.0/12',
}
const CP1 = {ip: '10.10.0.11', name: 'cp1'}
const CP2 = {ip: '10.10.0.12', name: 'cp2'}
const W1 = {ip: '10.10.0.21', name: 'w1'}

async function openssl(args: string[], input?: string): Promise<string> {
  const child = run('openssl', args, {encoding: 'utf8'})
  if (input !== undefined) child.child.stdin?.end(input)
  return (await child).stdout
}

/** The node's files under a host folder, as the lab supervisor would write them into a VM's root. */
function writeTree(files: NodeFiles): string {
  const root = mkdtempSync(path.join(tmpdir(), 'kp-kubeadm-node-'))
  for (const [file, {content, mode}] of files) {
    mkdirSync(path.dirname(path.join(root, file)), {recursive: true})
    writeFileSync(path.join(root, file), content, {mode})
  }

  return root
}

async function extensions(certPem: string): Promise<string> {
  return openssl(['x509', '-noout', '-subject', '-ext', 'basicConstraints,keyUsage,extendedKeyUsage,subjectAltName', '-nameopt', 'oneline,-space_eq'], certPem)
}

async function daysLeft(certPem: string): Promise<number> {
  const out = await openssl(['x509', '-noout', '-enddate'], certPem)
  return (Date.parse(out.trim().replace('notAfter=', '')) - Date.now()) / DAY
}

interface Kubeconfig {
  clusters: Array<{cluster: {'certificate-authority-data': string; server: string}; name: string}>
  contexts: Array<{context: {cluster: string; user: string}; name: string}>
  'current-context': string
  users: Array<{name: string; user: Record<string, string>}>
}

const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8')

describe('the lab kubeadm PKI', () => {
  let dir: string
  let ca: ClusterCa
  let cp1: NodeFiles
  let root: string

  beforeAll(async () => {
    dir = path.join(mkdtempSync(path.join(tmpdir(), 'kp-kubeadm-pki-')), 'cluster')
    ca = await ensureClusterCa(dir, {caDays: 30, certDays: 7})
    cp1 = await controlPlaneFiles(ca, SPEC, CP1, {certDays: 7, first: true})
    root = writeTree(cp1)
  })

  it('makes the CAs in the fake API server\'s layout, 0700, and loads them on a second call', async () => {
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    for (const file of ['ca/ca.crt', 'ca/admin.crt', 'kubeadm/front-proxy-ca.crt', 'kubeadm/etcd-ca.crt']) expect(statSync(path.join(dir, file)).mode & 0o777).toBe(0o644)
    for (const file of ['ca/ca.key', 'ca/admin.key', 'kubeadm/front-proxy-ca.key', 'kubeadm/etcd-ca.key', 'kubeadm/sa.key']) expect(statSync(path.join(dir, file)).mode & 0o777).toBe(0o600)
    for (const [pair, cn] of [[ca.ca, 'kubernetes'], [ca.frontProxyCa, 'front-proxy-ca'], [ca.etcdCa, 'etcd-ca']] as const) {
      const text = await extensions(pair.certPem)
      expect(text).toContain(`subject=CN=${cn}`)
      expect(text).toMatch(/CA:TRUE/)
      expect(text).toMatch(/Certificate Sign/)
      expect(text).toContain(`DNS:${cn}`)
      expect(await daysLeft(pair.certPem)).toBeCloseTo(30, 1)
      expect(pair.keyPem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/)
    }

    expect(ca.sa.key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/)
    expect(ca.sa.pub).toMatch(/^-----BEGIN PUBLIC KEY-----/)

    const again = await ensureClusterCa(dir, {caDays: 1, certDays: 1})
    expect(again).toEqual(ca)
  })

  it('keeps a CA the fake API server made first', async () => {
    const first = mkdtempSync(path.join(tmpdir(), 'kp-kubeadm-pki-first-'))
    const pki = await ensurePki(first)
    const cluster = await ensureClusterCa(first, {encryptionAlgorithm: 'ECDSA-P256'})
    expect(cluster.ca).toEqual(pki.ca)
    expect(cluster.etcdCa.certPem).not.toBe(pki.ca.certPem)
  })

  it('gives the CA hash kubeadm\'s discovery uses', async () => {
    const file = path.join(dir, 'ca/ca.crt')
    const {stdout} = await run('sh', ['-c', 'openssl x509 -pubkey -noout -in "$1" | openssl pkey -pubin -outform der | sha256sum', 'sh', file])
    expect(ca.caCertHash).toBe(`sha256:${stdout.split(' ')[0]}`)
  })

  it('writes exactly kubeadm\'s control-plane files with kubeadm\'s modes', () => {
    const pki = ['ca', 'apiserver', 'apiserver-kubelet-client', 'front-proxy-ca', 'front-proxy-client', 'apiserver-etcd-client', 'etcd/ca', 'etcd/server', 'etcd/peer', 'etcd/healthcheck-client']
    const expected = new Map<string, number>([
      ...pki.flatMap((b): Array<[string, number]> => [[`/etc/kubernetes/pki/${b}.crt`, 0o644], [`/etc/kubernetes/pki/${b}.key`, 0o600]]),
      ['/etc/kubernetes/pki/sa.key', 0o600], ['/etc/kubernetes/pki/sa.pub', 0o600],
      ...['admin', 'super-admin', 'controller-manager', 'scheduler', 'kubelet'].map((c): [string, number] => [`/etc/kubernetes/${c}.conf`, 0o600]),
      ...['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((m): [string, number] => [`/etc/kubernetes/manifests/${m}.yaml`, 0o600]),
      ['/var/lib/kubelet/config.yaml', 0o644], ['/var/lib/kubelet/kubeadm-flags.env', 0o644],
      ['/var/lib/kubelet/pki/kubelet-client-current.pem', 0o600],
    ])
    expect(new Map([...cp1].map(([p, f]) => [p, f.mode]))).toEqual(expected)
    expect(cp1.get('/etc/kubernetes/pki/ca.key')?.content).toBe(ca.ca.keyPem)
    expect(cp1.get('/etc/kubernetes/pki/sa.pub')?.content).toBe(ca.sa.pub)
  })

  it('signs every leaf by its CA for its purpose, with certDays', async () => {
    const pki = path.join(root, 'etc/kubernetes/pki')
    const leaves = {
      ca: {client: ['apiserver-kubelet-client'], server: ['apiserver']},
      'etcd/ca': {client: ['apiserver-etcd-client', 'etcd/healthcheck-client', 'etcd/server', 'etcd/peer'], server: ['etcd/server', 'etcd/peer']},
      'front-proxy-ca': {client: ['front-proxy-client'], server: []},
    }
    for (const [issuer, {client, server}] of Object.entries(leaves)) {
      const verify = (purpose: string, names: string[]) => openssl(['verify', '-purpose', purpose, '-CAfile', `${pki}/${issuer}.crt`, ...names.map((n) => `${pki}/${n}.crt`)])
      expect(await verify('sslclient', client)).toBe(client.map((n) => `${pki}/${n}.crt: OK\n`).join(''))
      if (server.length > 0) expect(await verify('sslserver', server)).toBe(server.map((n) => `${pki}/${n}.crt: OK\n`).join(''))
    }

    // The front-proxy client is not trusted by the cluster CA, nor an etcd client by it.
    await expect(openssl(['verify', '-CAfile', `${pki}/ca.crt`, `${pki}/front-proxy-client.crt`])).rejects.toThrow()
    await expect(openssl(['verify', '-purpose', 'sslserver', '-CAfile', `${pki}/etcd/ca.crt`, `${pki}/apiserver-etcd-client.crt`])).rejects.toThrow()
    for (const [file, {content}] of cp1) {
      if (file.endsWith('.crt') && !file.endsWith('ca.crt')) expect(await daysLeft(content), file).toBeCloseTo(7, 1)
    }
  })

  it('gives the certificates kubeadm\'s subjects, SANs and usages', async () => {
    const cert = (base: string) => extensions(cp1.get(`/etc/kubernetes/pki/${base}.crt`)!.content)
    const apiserver = await cert('apiserver')
    expect(apiserver).toContain('subject=CN=kube-apiserver')
    expect(apiserver).toContain('CA:FALSE')
    expect(apiserver).toContain('Digital Signature, Key Encipherment')
    expect(apiserver).toMatch(/TLS Web Server Authentication\n/)
    expect(apiserver).toContain('DNS:cp1, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP Address:10.96.0.1, IP Address:10.10.0.11, DNS:k8s.lab.lan, IP Address:10.10.0.12')
    expect(await cert('apiserver-kubelet-client')).toContain('subject=O=kubeadm:cluster-admins, CN=kube-apiserver-kubelet-client')
    expect(await cert('apiserver-etcd-client')).toContain('subject=CN=kube-apiserver-etcd-client')
    expect(await cert('front-proxy-client')).toContain('subject=CN=front-proxy-client')
    expect(await cert('etcd/healthcheck-client')).toContain('subject=CN=kube-etcd-healthcheck-client')
    for (const base of ['etcd/server', 'etcd/peer']) {
      const text = await cert(base)
      expect(text).toContain('subject=CN=cp1')
      expect(text).toContain('TLS Web Server Authentication, TLS Web Client Authentication')
      expect(text).toContain('DNS:localhost, DNS:cp1, IP Address:10.10.0.11, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1')
    }
  })

  it('writes kubeconfigs for the endpoint (the local API server for the controller manager and scheduler)', async () => {
    const cases = [
      ['admin', 'kubernetes-admin', 'https://k8s.lab.lan:6443', 'O=kubeadm:cluster-admins, CN=kubernetes-admin'],
      ['super-admin', 'kubernetes-super-admin', 'https://k8s.lab.lan:6443', 'O=system:masters, CN=kubernetes-super-admin'],
      ['controller-manager', 'system:kube-controller-manager', 'https://10.10.0.11:6443', 'CN=system:kube-controller-manager'],
      ['scheduler', 'system:kube-scheduler', 'https://10.10.0.11:6443', 'CN=system:kube-scheduler'],
    ]
    for (const [file, user, server, subject] of cases) {
      const config = parse(cp1.get(`/etc/kubernetes/${file}.conf`)!.content) as Kubeconfig
      expect(config.clusters).toEqual([{cluster: {'certificate-authority-data': Buffer.from(ca.ca.certPem).toString('base64'), server}, name: 'lab'}])
      expect(config['current-context']).toBe(`${user}@lab`)
      expect(config.contexts).toEqual([{context: {cluster: 'lab', user}, name: `${user}@lab`}])
      const certPem = b64(config.users[0]!.user['client-certificate-data']!)
      expect(await extensions(certPem)).toContain(`subject=${subject}\n`)
      expect(await extensions(certPem)).toMatch(/TLS Web Client Authentication\n/)
      expect(await openssl(['verify', '-purpose', 'sslclient', '-CAfile', path.join(dir, 'ca/ca.crt')], certPem)).toBe('stdin: OK\n')
    }

    const kubelet = parse(cp1.get('/etc/kubernetes/kubelet.conf')!.content) as Kubeconfig
    expect(kubelet.users).toEqual([{name: 'system:node:cp1', user: {'client-certificate': '/var/lib/kubelet/pki/kubelet-client-current.pem', 'client-key': '/var/lib/kubelet/pki/kubelet-client-current.pem'}}])
    expect(kubelet.clusters[0]!.cluster.server).toBe('https://k8s.lab.lan:6443')
    const pem = cp1.get('/var/lib/kubelet/pki/kubelet-client-current.pem')!.content
    expect(await extensions(pem)).toContain('subject=O=system:nodes, CN=system:node:cp1')
  })

  it('writes static pod manifests with kubeadm\'s images and flags, and the kubelet\'s files', () => {
    const manifest = (name: string) => parse(cp1.get(`/etc/kubernetes/manifests/${name}.yaml`)!.content) as {spec: {containers: Array<{command: string[]; image: string}>}}
    const apiserver = manifest('kube-apiserver').spec.containers[0]!
    expect(apiserver.image).toBe('registry.k8s.io/kube-apiserver:v1.31.8')
    expect(apiserver.command).toEqual(expect.arrayContaining(['--advertise-address=10.10.0.11', '--service-cluster-ip-range=10.96.0.0/12', '--etcd-servers=https://127.0.0.1:2379', '--tls-cert-file=/etc/kubernetes/pki/apiserver.crt', '--client-ca-file=/etc/kubernetes/pki/ca.crt']))
    const etcd = manifest('etcd').spec.containers[0]!
    expect(etcd.image).toBe('registry.k8s.io/etcd:3.5.15-0')
    expect(etcd.command).toEqual(expect.arrayContaining(['--name=cp1', '--initial-cluster=cp1=https://10.10.0.11:2380', '--cert-file=/etc/kubernetes/pki/etcd/server.crt']))
    expect(etcd.command.some((c) => c.startsWith('--initial-cluster-state'))).toBe(false)
    expect(manifest('kube-controller-manager').spec.containers[0]!.command).toEqual(expect.arrayContaining(['--cluster-cidr=10.244.0.0/16', '--cluster-name=lab', '--kubeconfig=/etc/kubernetes/controller-manager.conf']))
    expect(manifest('kube-scheduler').spec.containers[0]!.image).toBe('registry.k8s.io/kube-scheduler:v1.31.8')

    const kubelet = parse(cp1.get('/var/lib/kubelet/config.yaml')!.content) as Record<string, unknown>
    expect(kubelet).toMatchObject({cgroupDriver: 'systemd', clusterDNS: ['10.96.0.10'], clusterDomain: 'cluster.local', maxPods: 50, staticPodPath: '/etc/kubernetes/manifests'})
    expect(cp1.get('/var/lib/kubelet/kubeadm-flags.env')!.content).toBe('KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --node-ip=10.10.0.11"\n')
  })

  it('joins a control plane: same CAs, its own leaves, no super-admin.conf, etcd joins the existing members', async () => {
    const cp2 = await controlPlaneFiles(ca, SPEC, CP2, {certDays: 7, encryptionAlgorithm: 'ECDSA-P256', etcdPeers: [CP1], first: false})
    expect(cp2.has('/etc/kubernetes/super-admin.conf')).toBe(false)
    expect(cp2.get('/etc/kubernetes/pki/etcd/ca.key')?.content).toBe(ca.etcdCa.keyPem)
    expect(cp2.get('/etc/kubernetes/pki/apiserver.key')?.content).toMatch(/^-----BEGIN EC PRIVATE KEY-----/)
    const etcd = parse(cp2.get('/etc/kubernetes/manifests/etcd.yaml')!.content) as {spec: {containers: Array<{command: string[]}>}}
    expect(etcd.spec.containers[0]!.command).toEqual(expect.arrayContaining(['--initial-cluster=cp1=https://10.10.0.11:2380,cp2=https://10.10.0.12:2380', '--initial-cluster-state=existing']))
    // Its kubelet went through the TLS bootstrap: the kubelet's own kubeconfig names.
    const kubelet = parse(cp2.get('/etc/kubernetes/kubelet.conf')!.content) as Kubeconfig
    expect(kubelet['current-context']).toBe('default-context')
    expect(await extensions(cp2.get('/etc/kubernetes/pki/apiserver.crt')!.content)).toContain('IP Address:10.10.0.12')
  })

  it('follows the version: system:masters admin and no super-admin before 1.29, etcd per minor', async () => {
    const old = await controlPlaneFiles(ca, {...SPEC, kubernetesVersion: '1.28.15'}, CP1, {encryptionAlgorithm: 'ECDSA-P256', first: true})
    expect(old.has('/etc/kubernetes/super-admin.conf')).toBe(false)
    const admin = parse(old.get('/etc/kubernetes/admin.conf')!.content) as Kubeconfig
    expect(await extensions(b64(admin.users[0]!.user['client-certificate-data']!))).toContain('subject=O=system:masters, CN=kubernetes-admin')
    expect(old.get('/var/lib/kubelet/kubeadm-flags.env')!.content).toContain('--pod-infra-container-image=registry.k8s.io/pause:3.9')
    expect(['1.30.1', '1.31.8', '1.32.4', '1.33.0'].map(etcdImage)).toEqual(['3.5.15-0', '3.5.15-0', '3.5.16-0', '3.5.21-0'].map((t) => `registry.k8s.io/etcd:${t}`))
    expect(subnetAddress('fd00:10:96::/108,10.96.0.0/12', 10)).toBe('fd00:10:96::a')
  })

  it('writes a worker\'s CA and bootstrapped kubelet files only', async () => {
    const files = await workerFiles(ca, SPEC, W1, {certDays: 3})
    expect(new Map([...files].map(([p, f]) => [p, f.mode]))).toEqual(new Map([
      ['/etc/kubernetes/pki/ca.crt', 0o644], ['/etc/kubernetes/kubelet.conf', 0o600], ['/var/lib/kubelet/pki/kubelet-client-current.pem', 0o600],
      ['/var/lib/kubelet/config.yaml', 0o644], ['/var/lib/kubelet/kubeadm-flags.env', 0o644],
    ]))
    const pem = files.get('/var/lib/kubelet/pki/kubelet-client-current.pem')!.content
    expect(pem).toMatch(/-----END CERTIFICATE-----\n-----BEGIN EC PRIVATE KEY-----/)
    expect(await extensions(pem)).toContain('subject=O=system:nodes, CN=system:node:w1')
    expect(await openssl(['verify', '-purpose', 'sslclient', '-CAfile', path.join(dir, 'ca/ca.crt')], pem)).toBe('stdin: OK\n')
    expect(await daysLeft(pem)).toBeCloseTo(3, 1)
    expect((parse(files.get('/etc/kubernetes/kubelet.conf')!.content) as Kubeconfig).clusters[0]!.cluster.server).toBe('https://k8s.lab.lan:6443')
  })

  describe.skipIf(!KUBECTL)('with the fake API server on the CA folder', () => {
    let kube: Awaited<ReturnType<typeof startFakeKube>>
    let work: string

    beforeAll(async () => {
      kube = await startFakeKube({certDir: ca.dir, controllerIntervalMs: 0, host: '127.0.0.1', port: 0, sans: ['k8s.lab.lan']})
      work = mkdtempSync(path.join(tmpdir(), 'kp-kubeadm-kubectl-'))
    })
    afterAll(async () => kube?.close())

    /** The node's admin.conf pointed at the fake server, as kp does after fetching it. */
    function admin(files: NodeFiles, name: string, caPem?: string): string {
      const config = parse(files.get('/etc/kubernetes/admin.conf')!.content) as Kubeconfig
      config.clusters[0]!.cluster.server = kube.url
      if (caPem) config.clusters[0]!.cluster['certificate-authority-data'] = Buffer.from(caPem).toString('base64')
      const file = path.join(work, name)
      writeFileSync(file, stringify(config), {mode: 0o600})
      return file
    }

    const get = (kubeconfig: string, what: string) => kubectl({dir: work, kube, kubeconfig, stateFile: ''}, ['get', '--raw', what])

    it('serves with a certificate of this CA and accepts the node\'s admin.conf', async () => {
      expect(kube.pki.ca.certPem).toBe(ca.ca.certPem)
      const kubeconfig = admin(cp1, 'admin.conf')
      const version = await get(kubeconfig, '/version')
      expect(version.code, version.stderr).toBe(0)
      expect(JSON.parse(version.stdout)).toMatchObject({gitVersion: 'v1.31.8'})
      const namespaces = await get(kubeconfig, '/api/v1/namespaces')
      expect(namespaces.code, namespaces.stderr).toBe(0)
    })

    it('refuses an admin.conf signed by another cluster\'s CA', async () => {
      const other = await ensureClusterCa(path.join(mkdtempSync(path.join(tmpdir(), 'kp-kubeadm-other-')), 'cluster'), {encryptionAlgorithm: 'ECDSA-P256'})
      const files = await controlPlaneFiles(other, SPEC, CP1, {encryptionAlgorithm: 'ECDSA-P256', first: true})
      // Its own CA does not trust the server…
      const untrusted = await get(admin(files, 'other.conf'), '/version')
      expect(untrusted.code).not.toBe(0)
      expect(untrusted.stderr).toMatch(/certificate signed by unknown authority/)
      // …and trusting the server, its client certificate is refused.
      const refused = await get(admin(files, 'other-trusting.conf', ca.ca.certPem), '/api/v1/namespaces')
      expect(refused.code).not.toBe(0)
      expect(refused.stderr).toMatch(/Unauthorized/)
      expect(readFileSync(path.join(dir, 'ca/ca.crt'), 'utf8')).toBe(ca.ca.certPem)
    })
  })
})
