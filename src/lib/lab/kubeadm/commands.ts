/**
 * The lab's kubeadm: the handler behind the agent (agent.ts). It finds the calling VM, parses the
 * command line as kubeadm would, and runs the simulated command; cobra's and kubeadm's usage
 * errors come back with their exit codes.
 */
import type {StubSession} from './agent.js'
import {NOT_SIMULATED, parseKubeadmArgv} from './argv.js'
import {type Call, Exit, type KubeadmLab} from './context.js'
import {RENEWABLE} from './argv.js'
import {certsCheckExpiration, certsRenew} from './certs-commands.js'
import {kubeadmInit} from './init.js'
import {kubeadmJoin} from './join.js'
import {kubeadmReset} from './reset.js'
import {certificateKey, tokenCreate, tokenDelete, tokenGenerate, uploadCerts} from './token.js'
import {upgradeApply, upgradeNode, upgradePlan} from './upgrade.js'
import type {LabVm} from './vm.js'

const RUN: Record<string, (c: Call) => number | Promise<number>> = {
  'certs certificate-key': certificateKey,
  'certs check-expiration': certsCheckExpiration,
  ...Object.fromEntries(RENEWABLE.map((name) => [`certs renew ${name}`, certsRenew])),
  init: kubeadmInit,
  'init phase upload-certs': uploadCerts,
  join: kubeadmJoin,
  reset: kubeadmReset,
  'token create': tokenCreate,
  'token delete': tokenDelete,
  'token generate': tokenGenerate,
  'upgrade apply': upgradeApply,
  'upgrade node': upgradeNode,
  'upgrade plan': upgradePlan,
}

// Calls on one VM run one at a time, as two kubeadm processes on one node would fight over its files.
const queues = new Map<number, Promise<unknown>>()

export function kubeadmHandler(lab: KubeadmLab, findVm: (ip: string) => LabVm | undefined) {
  return async (peer: string, session: StubSession): Promise<number> => {
    const vm = findVm(peer)
    if (!vm) {
      session.err(`kp lab: no running lab VM has the address ${peer}\n`)
      return 1
    }

    const {request} = session
    const call = parseKubeadmArgv(request.args)
    if ('code' in call) {
      session.err(call.message)
      return call.code
    }

    if (call.flags.help === true || call.path === '') {
      session.out(`kp lab: the lab's kubeadm ${request.version} simulates: init --config, init phase upload-certs, join, reset, token create|delete|generate, certs certificate-key|check-expiration|renew, upgrade plan|apply|node, version.\n`)
      return 0
    }

    const run = RUN[call.path]
    if (!run) {
      if (NOT_SIMULATED.has(call.path) || NOT_SIMULATED.has(call.path.split(' ')[0] ?? '') || call.path.startsWith('init phase') || call.path === 'token list') {
        session.err(`kp lab: kubeadm ${request.args.join(' ')} is recorded but not simulated yet\n`)
        return 0
      }

      session.err(`kp lab: kubeadm ${call.path} is not simulated\n`)
      return 1
    }

    const c: Call = {call, lab, session, version: request.version, vm}
    const previous = queues.get(vm.vmid) ?? Promise.resolve()
    const mine = previous.then(async () => {
      try {
        return await run(c)
      } catch (error) {
        if (error instanceof Exit) return error.code
        throw error
      }
    })
    queues.set(vm.vmid, mine.catch(() => {}))
    return mine
  }
}
