import {describe, expect, it} from 'vitest'

import type {CertificateRow} from '../../src/lib/certs/check.js'
import type {NodeVersions} from '../../src/lib/upgrade/assess.js'
import {
  certificateGuards,
  controlPlaneGuards,
  etcdGuard,
  kubeletGuards,
  podGuards,
  readyGuards,
  repositoryGuard,
  versionGuards,
} from '../../src/lib/upgrade/guards.js'
import {defaultTarget} from '../../src/lib/upgrade/repository.js'
import {imageTag} from '../../src/lib/upgrade/versions.js'

const cp = (name: string, v: string, extra: Partial<NodeVersions> = {}): NodeVersions => ({
  components: {etcd: '3.5.15-0', 'kube-apiserver': v, 'kube-controller-manager': v, 'kube-scheduler': v},
  ip: '10.0.0.1',
  kubelet: v,
  name,
  ready: true,
  role: 'control-plane',
  ...extra,
})
const worker = (name: string, kubelet: string | undefined, ready = true): NodeVersions => ({components: {}, ip: '10.0.0.9', ...(kubelet ? {kubelet} : {}), name, ready, role: 'worker'})
const codes = (b: Array<{code: string}>) => b.map((x) => x.code)

describe('versionGuards', () => {
  it('lets the next minor and a newer patch through', () => {
    expect(versionGuards('1.30.14', '1.31.2')).toEqual([])
    expect(versionGuards('1.30.1', '1.30.14')).toEqual([])
  })

  it('refuses the same version and a lower one', () => {
    const [same] = versionGuards('1.31.2', '1.31.2')
    expect(same).toMatchObject({code: 'same-or-lower', problem: 'the target 1.31.2 is the version the cluster runs'})
    const [lower] = versionGuards('1.31.2', '1.30.14')
    expect(lower).toMatchObject({code: 'same-or-lower', problem: "the target 1.30.14 is lower than the cluster's 1.31.2"})
    expect(lower!.fix).toContain('kp never downgrades')
  })

  it('refuses to skip a minor, naming the minor to go to first', () => {
    const [b] = versionGuards('1.30.14', '1.32.0')
    expect(b).toMatchObject({code: 'skips-minor', problem: '1.32.0 is 2 minors above 1.30.14; kubeadm upgrades one minor at a time'})
    expect(b!.fix).toContain('1.31.x first')
  })
})

describe('controlPlaneGuards', () => {
  it('passes a control plane at one version', () => {
    expect(controlPlaneGuards([cp('cp1', '1.30.14'), cp('cp2', '1.30.14'), worker('w1', '1.29.3')])).toEqual([])
  })

  it('names API servers on different versions and says to finish at the newest', () => {
    const [b] = controlPlaneGuards([cp('cp1', '1.31.2'), cp('cp2', '1.30.14'), cp('cp3', '1.30.14')])
    expect(b).toMatchObject({code: 'apiservers-differ', fix: 'finish the last upgrade first: kp upgrade cluster --to 1.31.2'})
    expect(b!.problem).toContain('kube-apiserver 1.30.14 on cp2')
    expect(b!.problem).toContain('kube-apiserver 1.30.14 on cp3')
    expect(b!.problem).not.toContain('on cp1')
  })

  it('lets the upgrade to the newest of them finish (a resume half-way through the control planes)', () => {
    expect(controlPlaneGuards([cp('cp1', '1.31.2'), cp('cp2', '1.30.14')], '1.31.2')).toEqual([])
    expect(codes(controlPlaneGuards([cp('cp1', '1.31.2'), cp('cp2', '1.30.14')], '1.31.3'))).toEqual(['apiservers-differ'])
  })

  it('names a scheduler left behind even when the API servers agree', () => {
    const stale = cp('cp2', '1.31.2', {components: {'kube-apiserver': '1.31.2', 'kube-controller-manager': '1.31.2', 'kube-scheduler': '1.30.14'}})
    const [b] = controlPlaneGuards([cp('cp1', '1.31.2'), stale])
    expect(b).toMatchObject({code: 'control-plane-differs', problem: 'the control plane runs 1.30.14 and 1.31.2: kube-scheduler 1.30.14 on cp2 is behind 1.31.2'})
  })
})

describe('kubeletGuards', () => {
  it('allows kubelets up to three minors behind the target', () => {
    expect(kubeletGuards([cp('cp1', '1.30.1'), worker('w1', '1.28.5')], '1.30.1', '1.31.0')).toEqual([])
  })

  it('refuses a kubelet newer than the API server', () => {
    const [b] = kubeletGuards([cp('cp1', '1.30.1'), worker('w1', '1.30.2')], '1.30.1', '1.31.0')
    expect(b).toMatchObject({code: 'kubelet-skew', node: 'w1', problem: 'the kubelet on w1 runs 1.30.2, newer than the API server 1.30.1 (unsupported)'})
  })

  it('accepts a kubelet at its own upgraded API server while another control plane is behind', () => {
    expect(kubeletGuards([cp('cp1', '1.31.2'), cp('cp2', '1.30.14')], '1.30.14', '1.31.2')).toEqual([])
  })

  it('refuses a kubelet more than three minors behind the target', () => {
    const [b] = kubeletGuards([cp('cp1', '1.30.1'), worker('w1', '1.27.9')], '1.30.1', '1.31.0')
    expect(b).toMatchObject({code: 'kubelet-skew', node: 'w1', problem: 'the kubelet on w1 runs 1.27.9: 4 minors behind 1.31.0, at most 3 are supported'})
  })
})

describe('repositoryGuard', () => {
  it('passes a target the repository has', () => {
    expect(repositoryGuard('1.31.2', ['1.30.14', '1.31.1', '1.31.2'])).toEqual([])
  })

  it('names the versions of that minor it does have', () => {
    const [b] = repositoryGuard('1.31.9', ['1.30.14', '1.31.1', '1.31.2'])
    expect(b).toMatchObject({code: 'not-in-repository', fix: 'choose a version it has: kp upgrade cluster --to 1.31.2', problem: 'kubeadm, kubelet and kubectl 1.31.9 are not in the package repository (its 1.31 repository has 1.31.1, 1.31.2)'})
  })

  it('says when the index could not be read', () => {
    const [b] = repositoryGuard('1.31.2', [], 'HTTP 503')
    expect(b!.problem).toBe('cannot tell whether 1.31.2 is in the package repository: HTTP 503')
  })
})

describe('readyGuards', () => {
  it('names a node not Ready and one never registered', () => {
    const b = readyGuards([cp('cp1', '1.30.1'), worker('w1', '1.30.1', false), worker('w2', undefined, false)])
    expect(b.map((x) => x.problem)).toEqual(['w1 is not Ready', 'w2 is not registered with the API server'])
    expect(codes(b)).toEqual(['node-not-ready', 'node-not-ready'])
  })
})

describe('etcdGuard', () => {
  it('passes OK findings and an API server without /readyz/etcd', () => {
    expect(etcdGuard([{status: 'OK', text: '/readyz/etcd ok'}, {status: 'UNKNOWN', text: 'no /readyz/etcd check (404)'}])).toEqual([])
  })

  it('blocks on a member not ready, naming it', () => {
    const [b] = etcdGuard([{status: 'OK', text: '/readyz/etcd ok'}, {status: 'WARNING', text: '2 of 3 etcd members ready; etcd-cp2 not ready'}])
    expect(b).toMatchObject({code: 'etcd-unhealthy', problem: 'etcd is not healthy: 2 of 3 etcd members ready; etcd-cp2 not ready'})
  })
})

describe('certificateGuards', () => {
  const row = (node: string, name: string, daysLeft: number | null, kind: CertificateRow['kind'] = 'certificate'): CertificateRow =>
    ({chainsToCa: true, daysLeft, kind, name, node, notAfter: null, path: `/etc/kubernetes/pki/${name}.crt`, problems: [], status: 'OK'})

  it('passes certificates with more days left than health.certificateCriticalDays', () => {
    expect(certificateGuards([row('cp1', 'apiserver', 7), row('cp1', 'admin.conf', null)], 7)).toEqual([])
  })

  it('blocks per node, with kp certs rotate for that node', () => {
    const b = certificateGuards([row('cp1', 'apiserver', 6), row('cp1', 'admin.conf', -1), row('cp2', 'apiserver', 300)], 7)
    expect(b).toEqual([{code: 'certificates-expiring', fix: 'renew them first: kp certs rotate cp1', node: 'cp1', problem: 'certificates on cp1 expire within 7 days (health.certificateCriticalDays): apiserver in 6 days, admin.conf expired'}])
  })

  it('sends a CA to the runbook: kp does not rotate CAs', () => {
    const [b] = certificateGuards([row('cp1', 'ca', 3, 'ca')], 7)
    expect(b!.fix).toContain('kp does not rotate CAs')
  })
})

describe('podGuards', () => {
  const owner = [{controller: true, kind: 'ReplicaSet', name: 'web-1'}]
  const pod = (name: string, node: string, extra: Record<string, unknown> = {}) => ({metadata: {labels: {app: name.split('-')[0]!}, name, namespace: 'default', ownerReferences: owner, ...extra}, spec: {nodeName: node}, status: {phase: 'Running'}})
  const pdb = (name: string, app: string, status: {currentHealthy: number; desiredHealthy: number; disruptionsAllowed: number; expectedPods: number}) => ({metadata: {name, namespace: 'default'}, spec: {selector: {matchLabels: {app}}}, status})

  it('passes pods a drain can evict, and a budget at 0 only while pods start', () => {
    const pods = [pod('web-a', 'w1'), pod('api-a', 'w1')]
    const budgets = [pdb('web', 'web', {currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1, expectedPods: 3}), pdb('api', 'api', {currentHealthy: 1, desiredHealthy: 1, disruptionsAllowed: 0, expectedPods: 2})]
    expect(podGuards(pods, budgets, new Set(), ['w1'])).toEqual([])
  })

  it('names the pod and the budget that needs every pod it has (maxUnavailable 0 / minAvailable = replicas)', () => {
    const [b] = podGuards([pod('db-0', 'w2')], [pdb('db', 'db', {currentHealthy: 2, desiredHealthy: 2, disruptionsAllowed: 0, expectedPods: 2})], new Set(), ['w2'])
    expect(b).toMatchObject({code: 'pod-not-evictable', node: 'w2'})
    expect(b!.problem).toBe('pod default/db-0 on w2 can never be evicted: PodDisruptionBudget default/db allows 0 disruptions (needs 2 healthy pods and has 2), even with every pod healthy')
    expect(b!.fix).toContain('relax PodDisruptionBudget default/db')
  })

  it('names a bare pod, and leaves mirror and DaemonSet pods and other nodes alone', () => {
    const pods = [
      pod('debug', 'w1', {ownerReferences: []}),
      pod('etcd-cp1', 'cp1', {annotations: {'kubernetes.io/config.mirror': 'x'}, ownerReferences: []}),
      pod('exporter-x', 'w1', {ownerReferences: [{controller: true, kind: 'DaemonSet', name: 'exporter'}]}),
      pod('stray', 'elsewhere', {ownerReferences: []}),
    ]
    const b = podGuards(pods, [], new Set(['default/exporter']), ['cp1', 'w1'])
    expect(b).toEqual([{code: 'pod-not-evictable', fix: 'run it under a Deployment or StatefulSet, or delete it: kubectl delete pod -n default debug', node: 'w1', problem: 'pod default/debug on w1 can never be evicted: it declares no controller, so nothing would re-create it'}])
  })
})

describe('defaultTarget and imageTag', () => {
  it('picks the newest patch of the next minor, else a newer patch of this one', () => {
    expect(defaultTarget('1.30.2', ['1.30.2', '1.30.14', '1.31.0', '1.31.3'])).toBe('1.31.3')
    expect(defaultTarget('1.30.2', ['1.30.2', '1.30.14'])).toBe('1.30.14')
    expect(defaultTarget('1.30.14', ['1.30.2', '1.30.14'])).toBeUndefined()
  })

  it('reads the version from an image reference', () => {
    expect(imageTag('registry.k8s.io/kube-apiserver:v1.30.14')).toBe('1.30.14')
    expect(imageTag('registry.k8s.io/etcd:3.5.15-0')).toBe('3.5.15-0')
    expect(imageTag('localhost:5000/kube-scheduler:v1.31.2@sha256:abc')).toBe('1.31.2')
  })
})
