/**
 * What kubeadm does with the cluster's etcd: init waits for the first member its kubelet starts;
 * a control-plane join checks the cluster is healthy (check-etcd), adds the new member through an
 * existing one (its peer URL), writes the etcd manifest and waits for the member to join; reset
 * removes the node's member through another one before its data directory goes.
 */
import type {RunningCluster} from './clusters.js'
import {type Call, fail, out} from './context.js'
import {anyMember, etcdClientCredentials, type EtcdCredentials, etcdClientUrl, etcdEndpoints, etcdPeerUrl, memberAdd, memberList, memberRemove, waitHealthy} from './etcd.js'
import type {LabVmState} from './kubelets.js'
import {klogWarning, phaseError} from './output.js'
import type {ClusterRecord} from './state.js'

/** kubeadm waits 40 s for a joining member; the lab's first member gets as long. */
const ETCD_WAIT_MS = 40_000

/** kubeadm retries member add and remove with back-off for about half a minute (etcd's exponential back-off). */
const RECONFIG_RETRY_MS = 30_000

/**
 * etcd refuses a membership change that would leave too few members that have been connected for
 * 5 s (--strict-reconfig-check): a member just restarted makes it say `unhealthy cluster` for a while.
 */
async function retried<T>(call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + RECONFIG_RETRY_MS
  for (let delay = 250; ; delay = Math.min(delay * 2, 4000)) {
    try {
      return await call()
    } catch (error) {
      if (Date.now() + delay > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  }
}

function credentials(c: Call, record: Pick<ClusterRecord, 'name'>): Promise<EtcdCredentials> {
  return etcdClientCredentials(c.lab.clusters.store.pkiDir(record.name))
}

/** The kubelet of the calling VM syncs now (it would within a second), so etcd starts at once. */
function kubeletSync(c: Call): void {
  c.lab.pods.syncVm({...c.vm, booted: true} satisfies LabVmState)
}

const logHint = (node: string) => `its log is /var/log/pods/kube-system_etcd-${node}/etcd/ on the node`

/** kubeadm init: the first member, started by the kubelet from the manifest just written. */
export async function waitFirstMember(c: Call, record: Pick<ClusterRecord, 'name'>, node: {ip: string; name: string}): Promise<void> {
  kubeletSync(c)
  if (!(await waitHealthy(etcdClientUrl(node.ip), await credentials(c, record), ETCD_WAIT_MS))) {
    fail(c, phaseError('wait-control-plane', `kp lab: the etcd member of ${node.name} did not become healthy within ${ETCD_WAIT_MS / 1000} s; ${logHint(node.name)}`))
  }
}

/** check-etcd: the existing members answer. Returns their endpoints. */
export async function checkEtcd(c: Call, running: RunningCluster): Promise<string[]> {
  const endpoints = etcdEndpoints({...running.record, members: running.record.members.filter((m) => m.vmid !== c.vm.vmid)})
  const creds = await credentials(c, running.record)
  try {
    await anyMember(endpoints, (e) => memberList(e, creds))
  } catch (error) {
    fail(c, phaseError('check-etcd', `etcd cluster is not healthy: ${error instanceof Error ? error.message : String(error)}`))
  }

  return endpoints
}

/**
 * A control-plane join: member add through an existing member (a member already added with this
 * peer URL by an earlier, failed join is kept, as kubeadm does), then the manifest, then the wait.
 */
export async function joinMember(c: Call, running: RunningCluster, endpoints: readonly string[], node: {ip: string; name: string}, writeManifest: () => void): Promise<void> {
  const creds = await credentials(c, running.record)
  const peer = etcdPeerUrl(node.ip)
  try {
    await retried(() => anyMember(endpoints, async (e) => {
      const members = await memberList(e, creds)
      if (!members.some((m) => m.peerURLs?.includes(peer))) await memberAdd(e, creds, peer)
    }))
  } catch (error) {
    fail(c, phaseError('control-plane-join/etcd', `error creating local etcd static pod manifest file: ${error instanceof Error ? error.message : String(error)}`))
  }

  out(c, '[etcd] Announced new etcd member joining to the existing etcd cluster', '[etcd] Creating static Pod manifest for "etcd"', '[etcd] Waiting for the new etcd member to join the cluster. This can take up to 40s')
  writeManifest()
  kubeletSync(c)
  if (!(await waitHealthy(etcdClientUrl(node.ip), creds, ETCD_WAIT_MS))) {
    fail(c, phaseError('control-plane-join/etcd', `error creating local etcd static pod manifest file: timeout waiting for etcd cluster to be available; ${logHint(node.name)}`))
  }
}

/**
 * reset's remove-etcd-member: through the other members (this one's may be down); the last member
 * is left alone, as kubeadm does. A failure is a warning: kubeadm tells the operator to remove it with etcdctl.
 */
export async function removeMember(c: Call, running: RunningCluster, node: {ip: string}): Promise<void> {
  const creds = await credentials(c, running.record)
  const self = etcdClientUrl(node.ip)
  const others = etcdEndpoints(running.record).filter((e) => e !== self)
  const peer = etcdPeerUrl(node.ip)
  try {
    await retried(() => anyMember([...others, self], async (e) => {
      const members = await memberList(e, creds)
      const mine = members.find((m) => m.peerURLs?.includes(peer))
      if (!mine || members.length === 1) return
      await memberRemove(e, creds, mine.ID)
    }))
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error)
    c.session.err(klogWarning(`[reset] Failed to remove etcd member: ${why}, please manually remove this etcd member using etcdctl`, 'removeetcdmember.go:70', 1000 + c.vm.vmid))
  }
}
