/**
 * kubeadm's own words for what the lab's kubeadm prints: phase lines, preflight errors, the join
 * commands and the closing messages of init and join. Sources: cmd/kubeadm/app/cmd/phases/init/
 * showjoincommand.go (initDoneTempl), cmd/util/join.go (joinCommandTemplate), cmd/join.go
 * (joinWorkerNodeDoneMsg, joinControPlaneDoneTemp), preflight/checks.go, util/error.go.
 */
import {STACK_HINT} from './argv.js'

export interface PreflightResult {
  errors: Array<{check: string; message: string}>
  warnings: Array<{check: string; message: string}>
}

/** What a preflight run prints: warnings on stdout (`\t[WARNING X]: …`), and the error when fatal. */
export function preflightReport(result: PreflightResult, phase = 'preflight'): {error?: string; warnings: string} {
  const warnings = result.warnings.map((w) => `\t[WARNING ${w.check}]: ${w.message}\n`).join('')
  if (result.errors.length === 0) return {warnings}
  const lines = result.errors.map((e) => `\t[ERROR ${e.check}]: ${e.message}\n`).join('')
  return {
    error: `error execution phase ${phase}: [preflight] Some fatal errors occurred:\n${lines}[preflight] If you know what you are doing, you can make a check non-fatal with \`--ignore-preflight-errors=...\`\n${STACK_HINT}\n`,
    warnings,
  }
}

/** Moves the checks --ignore-preflight-errors names (or `all`) from errors to warnings. */
export function ignoreErrors(result: PreflightResult, ignored: readonly string[]): PreflightResult {
  const set = new Set(ignored.map((i) => i.toLowerCase()))
  const skip = (check: string) => set.has('all') || set.has(check.toLowerCase())
  return {errors: result.errors.filter((e) => !skip(e.check)), warnings: [...result.warnings, ...result.errors.filter((e) => skip(e.check))]}
}

/** kubeadm's error exit: the message and the --v hint on stderr. */
export function phaseError(phase: string, message: string): string {
  return `error execution phase ${phase}: ${message}\n${STACK_HINT}\n`
}

export function plainError(message: string): string {
  return `${message}\n${STACK_HINT}\n`
}

/** A klog warning line as kubeadm prints it on stderr: `W0730 19:01:56.158637 2266197 common.go:101] …`. */
export function klogWarning(message: string, source: string, pid: number, now = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0')
  const stamp = `${p(now.getMonth() + 1)}${p(now.getDate())} ${p(now.getHours())}:${p(now.getMinutes())}:${p(now.getSeconds())}.${p(now.getMilliseconds() * 1000, 6)}`
  return `W${stamp} ${String(pid).padStart(7)} ${source}] ${message}\n`
}

export interface JoinCommandInput {
  caCertHash: string
  certificateKey?: string
  controlPlane: boolean
  endpoint: string
  skipCertificateKeyPrint?: boolean
  skipTokenPrint?: boolean
  token: string
}

/** joinCommandTemplate, with `<value withheld>` for skipped secrets. */
export function joinCommand(input: JoinCommandInput): string {
  const token = input.skipTokenPrint ? '<value withheld>' : input.token
  let text = `kubeadm join ${input.endpoint} --token ${token} \\\n\t--discovery-token-ca-cert-hash ${input.caCertHash} `
  if (input.controlPlane) {
    const key = input.certificateKey ? `--certificate-key ${input.skipCertificateKeyPrint ? '<value withheld>' : input.certificateKey}` : ''
    text += `\\\n\t--control-plane ${key}`
  }

  return text
}

/** `kubeadm token create --print-join-command` prints the worker command on one line. */
export function oneLine(command: string): string {
  return command.replaceAll('\\\n', '').replaceAll('\t', '')
}

export function initDone(input: {controlPlaneEndpoint: boolean; joinControlPlane: string; joinWorker: string; uploadCerts: boolean}): string {
  const controlPlane = !input.controlPlaneEndpoint
    ? ''
    : input.uploadCerts
      ? `You can now join any number of the control-plane node running the following command on each as root:

  ${input.joinControlPlane}

Please note that the certificate-key gives access to cluster sensitive data, keep it secret!
As a safeguard, uploaded-certs will be deleted in two hours; If necessary, you can use
"kubeadm init phase upload-certs --upload-certs" to reload certs afterward.

`
      : `You can now join any number of control-plane nodes by copying certificate authorities
and service account keys on each node and then running the following as root:

  ${input.joinControlPlane}

`
  return `
Your Kubernetes control-plane has initialized successfully!

To start using your cluster, you need to run the following as a regular user:

  mkdir -p $HOME/.kube
  sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config
  sudo chown $(id -u):$(id -g) $HOME/.kube/config

Alternatively, if you are the root user, you can run:

  export KUBECONFIG=/etc/kubernetes/admin.conf

You should now deploy a pod network to the cluster.
Run "kubectl apply -f [podnetwork].yaml" with one of the options listed at:
  https://kubernetes.io/docs/concepts/cluster-administration/addons/

${controlPlane}Then you can join any number of worker nodes by running the following on each as root:

${input.joinWorker}
`
}

export const JOIN_WORKER_DONE = `
This node has joined the cluster:
* Certificate signing request was sent to apiserver and a response was received.
* The Kubelet was informed of the new secure connection details.

Run 'kubectl get nodes' on the control-plane to see this node join the cluster.

`

export const JOIN_CONTROL_PLANE_DONE = `
This node has joined the cluster and a new control plane instance was created:

* Certificate signing request was sent to apiserver and approval was received.
* The Kubelet was informed of the new secure connection details.
* Control plane label and taint were applied to the new node.
* The Kubernetes control plane instances scaled up.
* A new etcd member was added to the local/stacked etcd cluster.

To start administering your cluster from this node, you need to run the following as a regular user:

\tmkdir -p $HOME/.kube
\tsudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config
\tsudo chown $(id -u):$(id -g) $HOME/.kube/config

Run 'kubectl get nodes' to see this node join the cluster.

`

/** A duration as Go prints it (`1.503122347s`, `501.557125ms`), for the health-check lines. */
export function goDuration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(9).replace(/\.?0+$/, '')}s` : `${ms.toFixed(6).replace(/\.?0+$/, '')}ms`
}
