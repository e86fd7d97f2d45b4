/** Verify the node: one read-only pass over everything the earlier steps set, as kubeadm will need it. */
import type {Step} from '../../engine/types.js'
import {ExitCode, KpError} from '../../errors.js'
import {pauseImage} from '../../kubernetes-versions.js'
import type {PrepareFacts, PrepareParams} from './facts.js'
import {runPlaybook} from './playbook.js'

export const verifyNode: Step<PrepareFacts, PrepareParams> = {
  concurrency: 6,
  id: 'verify',
  title: 'Verify the node',
  targets: (ctx) => ctx.facts.nodes.map((n) => n.name),
  plan: () => ['check swap, modules, sysctl, containerd, the pinned packages, kubelet and crictl'],
  async run(ctx) {
    const version = ctx.config.config.cluster.kubernetesVersion
    const session = await ctx.ssh(ctx.target!)
    const {code, stdout} = await runPlaybook(session, 'verify', [version, pauseImage(version)], ctx.signal)
    const failed = stdout.split('\n').filter((l) => l.startsWith('FAIL'))
    if (code !== 0 || failed.length > 0) {
      throw new KpError('ssh', ExitCode.stepFailed, `${ctx.target!} is not ready for kubeadm: ${failed.map((l) => l.replace(/^FAIL:\s*/, '')).join('; ') || `verify.sh exited ${code}`}`, {
        hint: 'the runbook section of the step named above says how to fix it by hand; then kp resume',
      })
    }
  },
}
