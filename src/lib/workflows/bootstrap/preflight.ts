/**
 * Check the configuration: what would make kubeadm fail half-way, or build a cluster nobody can
 * reach, is refused here before any VM exists. Runs on every attempt (it is read-only and cheap),
 * so a kp.yaml edited between a failure and `kp resume` is checked again.
 */
import {ConfigError, KpError} from '../../errors.js'
import type {Step} from '../../engine/types.js'
import type {BootstrapFacts, BootstrapParams} from './facts.js'

export const preflight: Step<BootstrapFacts, BootstrapParams> = {
  gathersFacts: true,
  id: 'preflight',
  title: 'Check the configuration',
  async run(ctx) {
    const loaded = ctx.config
    const {config} = loaded
    const {checkEndpointResolves, checkKubernetesVersion, checkPackageVersions, loadCniManifest} = await import('../../preflight/index.js')
    // A DNS endpoint must resolve here, to addresses inside the node network like an IP one.
    const problems = [checkKubernetesVersion(config.cluster.kubernetesVersion), await checkEndpointResolves(config)].filter((p): p is string => p !== undefined)
    if (problems.length > 0) throw new ConfigError(`${problems.join('; ')}; nothing was changed`, {hint: `fix ${loaded.path}, then run kp bootstrap again`})
    ctx.facts.cni = await loadCniManifest(config, loaded.dir, {signal: ctx.signal}).catch((error: unknown) => {
      if (error instanceof KpError) throw new ConfigError(`${error.message}; nothing was changed`, {hint: error.hint})
      throw error
    })
    ctx.log(`CNI manifest: ${ctx.facts.cni.length} objects (${[...new Set(ctx.facts.cni.map((o) => o.kind))].join(', ')})`)
    const packages = await checkPackageVersions(config, {signal: ctx.signal})
    if (packages) throw new ConfigError(`${packages}; nothing was changed`, {hint: `set cluster.kubernetesVersion in ${loaded.path} to a version the repository carries`})
  },
}
