/**
 * The lab's etcd client against a real etcd on loopback (Debian's etcd-server), serving TLS with
 * client-certificate auth as kubeadm's manifest runs it: credentials signed by the cluster's etcd
 * CA, member list, status, health, errors in etcd's words, and the fallback over endpoints. Also
 * what the lab kubelet reads from an etcd manifest. No root, no VM.
 */
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {X509Certificate} from 'node:crypto'
import {statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {anyMember, etcdClientCredentials, type EtcdCredentials, etcdEndpoints, memberHealthy, memberList, memberRemove, memberStatus, waitHealthy} from '../../../src/lib/lab/kubeadm/etcd.js'
import {staticPodManifests} from '../../../src/lib/lab/kubeadm/manifests.js'
import {ensureClusterCa, issueCertificate, issuerFiles} from '../../../src/lib/lab/kubeadm/pki.js'
import {etcdContainer, etcdName} from '../../../src/lib/lab/kubeadm/static-pods.js'
import type {ClusterRecord} from '../../../src/lib/lab/kubeadm/state.js'
import {tempDir} from '../../helpers/cli.js'
import {freePort} from '../../ssh/sshd.js'

const hasEtcd = spawnSync('etcd', ['--version'], {stdio: 'ignore'}).status === 0
if (!hasEtcd) console.warn('test/lab/kubeadm/etcd-client.test.ts: etcd is not installed (apt-get install -y etcd-server etcd-client); client not checked')

describe.skipIf(!hasEtcd)('the lab etcd client', () => {
  const dir = tempDir('kp-etcd-client-')
  const pki = path.join(dir, 'pki')
  let etcd: ChildProcess | undefined
  let url = ''
  let creds: EtcdCredentials

  beforeAll(async () => {
    await ensureClusterCa(pki, {encryptionAlgorithm: 'ECDSA-P256'})
    const server = await issueCertificate({cn: 'm1', days: 1, sans: ['localhost', '127.0.0.1'], usages: ['serverAuth', 'clientAuth']}, issuerFiles(pki, 'etcd-ca'), 'ECDSA-P256')
    writeFileSync(path.join(dir, 'server.crt'), server.certPem)
    writeFileSync(path.join(dir, 'server.key'), server.keyPem, {mode: 0o600})
    const [client, peer, metrics] = [await freePort(), await freePort(), await freePort()]
    url = `https://127.0.0.1:${client}`
    etcd = spawn('etcd', [
      '--name=m1', `--data-dir=${path.join(dir, 'data')}`, `--listen-client-urls=${url}`, `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`, `--initial-cluster=m1=http://127.0.0.1:${peer}`,
      `--listen-metrics-urls=http://127.0.0.1:${metrics}`, '--client-cert-auth=true', `--trusted-ca-file=${issuerFiles(pki, 'etcd-ca').cert}`,
      `--cert-file=${path.join(dir, 'server.crt')}`, `--key-file=${path.join(dir, 'server.key')}`,
    ], {stdio: 'ignore'})
    creds = await etcdClientCredentials(pki)
    expect(await waitHealthy(url, creds, 20_000)).toBe(true)
  }, 60_000)

  afterAll(() => {
    etcd?.kill('SIGTERM')
  })

  it('makes client credentials once, signed by the etcd CA, the key private', async () => {
    expect(new X509Certificate(creds.cert).checkIssued(new X509Certificate(creds.ca))).toBe(true)
    expect(new X509Certificate(creds.ca).subject).toContain('CN=etcd-ca')
    expect(await etcdClientCredentials(pki)).toBe(creds)
    expect(statSync(path.join(pki, 'etcd-client', 'client.key')).mode & 0o777).toBe(0o600)
  })

  it('lists the members, their status and health', async () => {
    const members = await memberList(url, creds)
    expect(members.map((m) => [m.name, m.clientURLs])).toEqual([['m1', [url]]])
    const status = await memberStatus(url, creds)
    expect(status.header?.member_id).toBe(members[0]!.ID)
    expect(status.leader).toBe(members[0]!.ID)
    expect(status.version).toMatch(/^3\./)
    expect(await memberHealthy(url, creds)).toBe(true)
  })

  it("reports etcd's own errors and refuses a client without a certificate of the etcd CA", async () => {
    await expect(memberRemove(url, creds, '12345')).rejects.toThrow(`etcd ${url}: etcdserver: member not found`)
    const other = await issueCertificate({cn: 'stranger', days: 1, usages: ['clientAuth']}, undefined, 'ECDSA-P256')
    expect(await memberHealthy(url, {...creds, cert: other.certPem, key: other.keyPem})).toBe(false)
  })

  it('tries the endpoints in turn, and names each failure when none answers', async () => {
    const closed = `https://127.0.0.1:${await freePort()}`
    expect((await anyMember([closed, url], (e) => memberList(e, creds))).length).toBe(1)
    await expect(anyMember([closed], (e) => memberList(e, creds))).rejects.toThrow(`no etcd member answered: etcd ${closed}: connect ECONNREFUSED`)
    await expect(anyMember([], (e) => memberList(e, creds))).rejects.toThrow('the cluster has no etcd member')
  })
})

describe('what the lab kubelet reads from an etcd manifest', () => {
  it('runs the command of the manifest kubeadm writes, named after the node; the endpoints are the control planes', () => {
    const spec = {clusterName: 'lab', endpoint: '10.77.0.10:6443', kubernetesVersion: '1.31.8', podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12'}
    const manifest = staticPodManifests(spec, {ip: '10.77.0.12', name: 'cp2'}, {etcdPeers: [{ip: '10.77.0.11', name: 'cp1'}]}).get('etcd.yaml')!
    const container = etcdContainer(manifest)!
    expect(container.image).toBe('registry.k8s.io/etcd:3.5.15-0')
    expect(container.command[0]).toBe('etcd')
    expect(container.command).toContain('--initial-cluster=cp1=https://10.77.0.11:2380,cp2=https://10.77.0.12:2380')
    expect(container.command).toContain('--initial-cluster-state=existing')
    expect(etcdName(container.command)).toBe('cp2')
    expect(etcdContainer('kind: Pod\nspec: {containers: [{name: etcd}]}\n')).toBeUndefined()
    expect(etcdContainer(': not yaml [')).toBeUndefined()
    const members = [{ip: '10.77.0.11', name: 'cp1', role: 'control-plane', vmid: 201}, {ip: '10.77.0.13', name: 'w1', role: 'worker', vmid: 203}] as const
    expect(etcdEndpoints({members} as unknown as ClusterRecord)).toEqual(['https://10.77.0.11:2379'])
  })
})
