/**
 * Initialise the first control plane: `kubeadm init --config … --upload-certs` with a token and a
 * certificate key made for this attempt. Done once: a node whose kube-apiserver manifest exists
 * was initialised (by an earlier attempt that was cut before it could say so), and kubeadm init
 * must never run twice on it — kubeadm would refuse anyway, after its preflight.
 */
import type {Step} from '../../engine/types.js'
import {KUBEADM_CONFIG_PATHS, generateBootstrapToken, generateCertificateKey, kubeadmInitArgv} from '../../kubeadm/index.js'
import {type BootstrapFacts, type BootstrapParams, firstControlPlane} from './facts.js'
import {renderCheckedInit} from './kubeadm-config.js'
import {KUBEADM_TIMEOUT_MS, fileExists, withNodeFile} from './node-kubeadm.js'

export const APISERVER_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml'

export const kubeadmInit: Step<BootstrapFacts, BootstrapParams> = {
  id: 'kubeadm-init',
  title: 'Initialise the first control plane',
  targets: (ctx) => [firstControlPlane(ctx).name],
  async check(ctx) {
    const session = await ctx.ssh(ctx.target!)
    return (await fileExists(session, APISERVER_MANIFEST, ctx.signal)) ? `already initialised (${APISERVER_MANIFEST} exists)` : false
  },
  plan: (ctx) => [`kubeadm init on ${ctx.target} (${ctx.config.config.cluster.kubernetesVersion}, endpoint ${ctx.config.config.cluster.controlPlaneEndpoint})`],
  async run(ctx) {
    // Fresh for every attempt (the generators register them with the redactor); never journaled.
    const secrets = {bootstrapToken: generateBootstrapToken(), certificateKey: generateCertificateKey()}
    const text = await renderCheckedInit(ctx, secrets)
    const session = await ctx.ssh(ctx.target!)
    await ctx.mutate(`kubeadm init on ${ctx.target}`, () =>
      withNodeFile(session, KUBEADM_CONFIG_PATHS.init, text, ctx.signal, () =>
        // The skip flags keep the token and key out of kubeadm's closing text (and so out of any log).
        session.exec([...kubeadmInitArgv(), '--skip-token-print', '--skip-certificate-key-print'], {signal: ctx.signal, sudo: true, timeoutMs: KUBEADM_TIMEOUT_MS}),
      ),
    )
  },
}
