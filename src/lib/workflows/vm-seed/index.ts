/** vm-seed: converge the Proxmox VMs towards kp.yaml. Steps read like runbooks/vm-seed.md. */
import path from 'node:path'

import type {Workflow} from '../../engine/types.js'
import {packageRoot} from '../../package-root.js'
import {checkAddress} from './address.js'
import {cloneTemplate} from './clone.js'
import {configureVm} from './configure.js'
import {gatherFacts, initialFacts, type SeedFacts, type SeedParams} from './facts.js'
import {waitForAgent} from './guest-agent.js'
import {pinSshHostKey} from './host-key.js'
import {rebootVm} from './reboot.js'
import {resizeDisk} from './resize.js'
import {waitForSshStep} from './ssh.js'
import {startVm} from './start.js'

export const vmSeed: Workflow<SeedFacts, SeedParams> = {
  initialFacts,
  name: 'vm-seed',
  runbookFile: path.join(packageRoot(), 'runbooks', 'vm-seed.md'),
  secrets: true,
  steps: [gatherFacts, cloneTemplate, configureVm, resizeDisk, startVm, rebootVm, waitForAgent, checkAddress, pinSshHostKey, waitForSshStep],
  title: 'Seed the VMs',
}
