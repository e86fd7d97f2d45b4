/** node-prepare: turn fresh cloud-init VMs into nodes ready for kubeadm. Reads like runbooks/node-prepare.md. */
import path from 'node:path'

import type {Workflow} from '../../engine/types.js'
import {packageRoot} from '../../package-root.js'
import {gatherFacts, initialFacts, type PrepareFacts, type PrepareParams} from './facts.js'
import {playbookSteps} from './steps.js'
import {verifyNode} from './verify.js'

export const nodePrepare: Workflow<PrepareFacts, PrepareParams> = {
  initialFacts,
  name: 'node-prepare',
  runbookFile: path.join(packageRoot(), 'runbooks', 'node-prepare.md'),
  steps: [gatherFacts, ...playbookSteps, verifyNode],
  title: 'Prepare the nodes',
}
