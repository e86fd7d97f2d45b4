/** vm-seed: converge the Proxmox VMs towards kp.yaml. Steps read like runbooks/vm-seed.md. */
import type {Workflow} from '../../engine/types.js'
import {checkAddress} from './address.js'
import {cloneTemplate} from './clone.js'
import {configureVm} from './configure.js'
import {gatherFacts, initialFacts, type SeedFacts, type SeedParams} from './facts.js'
import {waitForAgent} from './guest-agent.js'
import {pinSshHostKey} from './host-key.js'
import {rebootVm, rebootWanted} from './reboot.js'
import {resizeDisk} from './resize.js'
import {waitForSshStep} from './ssh.js'
import {startVm} from './start.js'

export const vmSeed: Workflow<SeedFacts, SeedParams> = {
  confirm(params) {
    if (!rebootWanted(params.reboot)) return undefined
    const nodes = [params.nodes ?? []].flat()
    return `Reboot ${nodes.length > 0 ? nodes.join(', ') : 'every node'} where changes wait for a boot (--reboot)?`
  },
  initialFacts,
  name: 'vm-seed',
  secrets: true,
  steps: [gatherFacts, cloneTemplate, configureVm, resizeDisk, startVm, rebootVm, waitForAgent, checkAddress, pinSshHostKey, waitForSshStep],
  title: 'Seed the VMs',
}
