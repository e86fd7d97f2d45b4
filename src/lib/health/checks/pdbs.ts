import {type Finding, fromFindings} from '../status.js'
import type {Check} from '../types.js'

export const pdbsCheck: Check = {
  description: 'No PodDisruptionBudget with pods to protect allows zero disruptions (it would block every drain).',
  name: 'pdbs',
  async run({kube, signal}) {
    const pdbs = await (await kube()).listPdbs({signal})
    const findings: Finding[] = []
    for (const pdb of pdbs) {
      const s = pdb.status
      if (!s || s.expectedPods <= 0 || s.disruptionsAllowed > 0) continue
      findings.push({status: 'WARNING', text: `${pdb.metadata?.namespace}/${pdb.metadata?.name} allows no disruption (${s.currentHealthy} healthy, ${s.desiredHealthy} needed): a drain would block`})
    }

    return fromFindings(findings, pdbs.length === 0 ? 'no PodDisruptionBudgets' : `${pdbs.length} PodDisruptionBudgets allow a disruption`)
  },
}
