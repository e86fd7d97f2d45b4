/**
 * Render the kubeadm configuration: the init file for the first control plane, for this Kubernetes
 * version (kubeadm.k8s.io/v1beta4 from 1.31, v1beta3 before), checked the way kubeadm decodes it.
 * A copy with placeholder secrets is kept in the state dir for the operator to read or to run
 * kubeadm by hand; the real file, with a fresh token and certificate key, only ever exists on the
 * node, in /run, for the length of `kubeadm init`.
 */
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import type {Step} from '../../engine/types.js'
import {KpError, ExitCode} from '../../errors.js'
import {type BootstrapContext, type BootstrapFacts, type BootstrapParams, firstControlPlane} from './facts.js'

export function kubeadmConfigFile(ctx: BootstrapContext): string {
  return path.join(ctx.stateDir, 'clusters', ctx.config.config.cluster.name, 'kubeadm-init.yaml')
}

/** The init configuration with the given secrets, refused if kubeadm would refuse it. */
export async function renderCheckedInit(ctx: BootstrapContext, secrets: {bootstrapToken: string; certificateKey: string}): Promise<string> {
  const {renderInitConfig, validateKubeadmConfig} = await import('../../kubeadm/index.js')
  const {config} = ctx.config
  const text = renderInitConfig(config, firstControlPlane(ctx), secrets)
  const checked = validateKubeadmConfig(text, {command: 'init', kubeadmVersion: config.cluster.kubernetesVersion})
  const errors = checked.problems.filter((p) => p.severity === 'error')
  if (errors.length > 0) throw new KpError('bug', ExitCode.stepFailed, `kp rendered a kubeadm configuration kubeadm would refuse: ${errors.map((p) => p.message).join('; ')}`)
  return text
}

async function placeholderText(ctx: BootstrapContext): Promise<string> {
  const {PLACEHOLDER_SECRETS} = await import('../../kubeadm/index.js')
  return renderCheckedInit(ctx, PLACEHOLDER_SECRETS)
}

export const renderKubeadmConfig: Step<BootstrapFacts, BootstrapParams> = {
  id: 'kubeadm-config',
  title: 'Render the kubeadm configuration',
  async check(ctx) {
    try {
      return readFileSync(kubeadmConfigFile(ctx), 'utf8') === (await placeholderText(ctx)) ? 'up to date' : false
    } catch {
      return false
    }
  },
  plan: (ctx) => [`write ${kubeadmConfigFile(ctx)} (secrets as placeholders)`],
  async run(ctx) {
    const text = await placeholderText(ctx)
    const file = kubeadmConfigFile(ctx)
    await ctx.mutate(`write ${file}`, () => {
      mkdirSync(path.dirname(file), {mode: 0o700, recursive: true})
      writeFileSync(file, text, {mode: 0o600})
    })
    ctx.log(`kubeadm configuration for ${firstControlPlane(ctx).name}: ${file}`)
  },
}
