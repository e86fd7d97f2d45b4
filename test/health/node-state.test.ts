/** The node-state check of kp health --deep: its script's report parsed, and each finding judged. */
import {describe, expect, it} from 'vitest'

import {judgeNodeState, nodeStateMetrics, parseNodeState} from '../../src/lib/health/checks/node-state.js'

const T = {diskCriticalPercent: 90, diskWarnPercent: 80, kubernetesVersion: '1.31.9'}
const GOOD = `reboot-required=0
reboot-pkgs=
held=kubeadm kubectl kubelet 
pkg=kubeadm=1.31.9-1.1
pkg=kubelet=1.31.9-1.1
pkg=kubectl=1.31.9-1.1
kubelet=active
disk=/=41
disk=/var/lib/etcd=41
`

describe('node-state', () => {
  it('parses the report and finds nothing wrong on a node as kp prepared it', () => {
    const state = parseNodeState(GOOD)
    expect(state).toEqual({disk: {'/': 41, '/var/lib/etcd': 41}, held: ['kubeadm', 'kubectl', 'kubelet'], kubelet: 'active', packages: {kubeadm: '1.31.9-1.1', kubectl: '1.31.9-1.1', kubelet: '1.31.9-1.1'}, rebootPackages: [], rebootRequired: false})
    expect(judgeNodeState('cp1', state, T).filter((f) => f.status !== 'OK')).toEqual([])
    expect(nodeStateMetrics('cp1', state)).toEqual([
      expect.objectContaining({labels: {node: 'cp1'}, name: 'kp_node_reboot_required', value: 0}),
      expect.objectContaining({labels: {node: 'cp1'}, name: 'kp_node_kubelet_active', value: 1}),
      expect.objectContaining({labels: {node: 'cp1', path: '/'}, name: 'kp_node_disk_used_percent', value: 41}),
      expect.objectContaining({labels: {node: 'cp1', path: '/var/lib/etcd'}, name: 'kp_node_disk_used_percent', value: 41}),
    ])
  })

  it('names a pending reboot and its packages, unheld or other-version packages, full disks and a stopped kubelet, each with its fix', () => {
    const state = parseNodeState(`reboot-required=1
reboot-pkgs=linux-image-6.1.0-27-amd64 libc6 
held=kubeadm
pkg=kubeadm=1.31.8-1.1
pkg=kubelet=1.30.4-1.1
pkg=kubectl=
kubelet=failed
disk=/=85
disk=/var/lib/etcd=93
`)
    const findings = judgeNodeState('w1', state, T)
    const text = (status: string) => findings.filter((f) => f.status === status).map((f) => f.text)
    expect(text('WARNING')).toEqual([
      'w1 waits for a reboot (linux-image-6.1.0-27-amd64, libc6): kp node patch w1 reboots it safely',
      expect.stringMatching(/^w1 runs kubeadm 1\.31\.8-1\.1, not cluster\.kubernetesVersion 1\.31\.9: /),
      'w1 does not hold kubelet: an apt upgrade could move them; kp ssh w1 -- sudo apt-mark hold kubelet',
      'w1 / is 85% full, at or above health.diskUsageWarnPercent (80): free space there',
    ])
    expect(text('CRITICAL')).toEqual([
      expect.stringMatching(/^w1 runs kubelet 1\.30\.4-1\.1, not cluster\.kubernetesVersion 1\.31\.9/),
      'w1 has no kubectl package installed: kp node prepare w1 installs 1.31.9',
      'w1 /var/lib/etcd is 93% full, at or above health.diskUsageCriticalPercent (90): free space there',
      "w1's kubelet is failed: kp ssh w1 -- 'sudo journalctl -u kubelet -n 50' says why",
    ])
    expect(nodeStateMetrics('w1', state).find((m) => m.name === 'kp_node_reboot_required')?.value).toBe(1)
  })
})
