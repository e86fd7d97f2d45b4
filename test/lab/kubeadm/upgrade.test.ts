/**
 * The lab kubeadm's `upgrade plan|apply|node` without VMs: the command line as cobra reads it,
 * kubeadm's version skew policy with its messages, the manifests rewritten with the new tags, and
 * the plan's tables.
 */
import {describe, expect, it} from 'vitest'

import {parseKubeadmArgv} from '../../../src/lib/lab/kubeadm/argv.js'
import {staticPodManifests} from '../../../src/lib/lab/kubeadm/manifests.js'
import {compareVersions} from '../../../src/lib/lab/kubeadm/kubelets.js'
import type {LabClusterSpec} from '../../../src/lib/lab/kubeadm/node-files.js'
import {planTable, upgradedManifest, versionPolicy} from '../../../src/lib/lab/kubeadm/upgrade.js'

const spec: LabClusterSpec = {clusterName: 'lab', endpoint: '10.77.0.10:6443', kubernetesVersion: '1.30.14', podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12'}

describe('kubeadm upgrade: the command line', () => {
  it('knows plan, apply and node with their flags', () => {
    expect(parseKubeadmArgv(['upgrade', 'apply', 'v1.31.9', '--yes'])).toMatchObject({args: ['v1.31.9'], flags: {yes: true}, path: 'upgrade apply'})
    expect(parseKubeadmArgv(['upgrade', 'apply', 'v1.31.9', '-y'])).toMatchObject({flags: {yes: true}, path: 'upgrade apply'})
    expect(parseKubeadmArgv(['upgrade', 'plan', 'v1.31.9'])).toMatchObject({args: ['v1.31.9'], path: 'upgrade plan'})
    expect(parseKubeadmArgv(['upgrade', 'node'])).toMatchObject({args: [], path: 'upgrade node'})
  })

  it("refuses what cobra refuses, in cobra's words", () => {
    const message = (argv: string[]) => {
      const parsed = parseKubeadmArgv(argv)
      return 'code' in parsed ? parsed.message : ''
    }

    expect(message(['upgrade', 'apply', 'v1.31.9', '--yess'])).toBe('unknown flag: --yess\nTo see the stack trace of this error execute with --v=5 or higher\n')
    expect(message(['upgrade', 'node', 'v1.31.9'])).toContain('unknown command "v1.31.9" for "kubeadm upgrade node"')
    expect(message(['upgrade', 'nod'])).toBe('invalid subcommand: "nod"\n')
    expect(message(['upgrade'])).toContain('missing subcommand; "upgrade" is not meant to be run on its own')
  })
})

describe("kubeadm upgrade: kubeadm's version skew policy", () => {
  it('allows the next minor and a patch', () => {
    expect(versionPolicy('1.30.14', '1.31.9', '1.31.9')).toEqual({mandatory: [], skippable: []})
    expect(versionPolicy('1.30.13', '1.30.14', '1.30.14')).toEqual({mandatory: [], skippable: []})
    // The same version again is allowed (kubeadm re-applies it).
    expect(versionPolicy('1.31.9', '1.31.9', '1.31.9')).toEqual({mandatory: [], skippable: []})
  })

  it('refuses a kubeadm older than the target', () => {
    expect(versionPolicy('1.30.14', '1.31.9', '1.31.8').skippable).toEqual([
      'Specified version to upgrade to "v1.31.9" is higher than the kubeadm version "v1.31.8". Upgrade kubeadm first using the tool you used to install kubeadm',
    ])
    expect(versionPolicy('1.30.14', '1.31.9', '1.30.14').mandatory).toEqual([
      'Specified version to upgrade to "v1.31.9" is at least one minor release higher than the kubeadm minor release (31 > 30). Such an upgrade is not supported',
    ])
  })

  it('refuses skipping a minor and a downgrade', () => {
    expect(versionPolicy('1.30.14', '1.32.5', '1.32.5').mandatory).toEqual(['Specified version to upgrade to "v1.32.5" is too high; kubeadm can upgrade only 1 minor version at a time'])
    expect(versionPolicy('1.31.9', '1.31.8', '1.31.9').skippable).toContain(
      'Specified version to upgrade to "v1.31.8" is equal to or lower than the cluster version "v1.31.9". Downgrades are not supported yet',
    )
  })

  it('orders versions numerically', () => {
    expect(['v1.31.10', 'v1.31.9', 'v1.30.14'].sort(compareVersions)).toEqual(['v1.30.14', 'v1.31.9', 'v1.31.10'])
  })
})

describe('kubeadm upgrade: the manifests', () => {
  const manifests = staticPodManifests(spec, {ip: '10.77.0.21', name: 'cp1'})
  it("moves each component's image tag, etcd's per minor, and nothing else", () => {
    const api = manifests.get('kube-apiserver.yaml')!
    const next = upgradedManifest('kube-apiserver', api, '1.31.9')
    expect(next).toContain('image: registry.k8s.io/kube-apiserver:v1.31.9')
    expect(next.replace('v1.31.9', 'v1.30.14')).toBe(api)
    for (const [version, tag] of [['1.31.9', '3.5.15-0'], ['1.32.5', '3.5.16-0'], ['1.33.5', '3.5.21-0']]) {
      expect(upgradedManifest('etcd', manifests.get('etcd.yaml')!, version!)).toContain(`image: registry.k8s.io/etcd:${tag}`)
    }

    expect(upgradedManifest('kube-scheduler', manifests.get('kube-scheduler.yaml')!, 'v1.31.9')).toContain('image: registry.k8s.io/kube-scheduler:v1.31.9')
  })

  it("lays the plan out as kubeadm's tabwriter does", () => {
    expect(planTable([['COMPONENT', 'NODE', 'CURRENT', 'TARGET'], ['kube-apiserver', 'cp1', 'v1.30.14', 'v1.31.9'], ['kube-proxy', '', '1.30.14', 'v1.31.9']])).toBe(
      'COMPONENT        NODE      CURRENT    TARGET\n' + 'kube-apiserver   cp1       v1.30.14   v1.31.9\n' + 'kube-proxy                 1.30.14    v1.31.9\n',
    )
  })
})
