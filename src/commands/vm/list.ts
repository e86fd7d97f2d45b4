import {BaseCommand} from '../../lib/base-command.js'
import {table} from '../../lib/table.js'
import type {InventoryRow} from '../../lib/vm/inventory.js'

export default class VmList extends BaseCommand<typeof VmList> {
  static description = `List the nodes of kp.yaml beside their Proxmox VMs: VMID, name, state, IP and drift from kp.yaml.
"missing" nodes have no VM yet (kp vm seed creates them); "foreign" means the VMID belongs to a VM kp does not manage; "extra" VMs carry this cluster's tag but are not in kp.yaml.`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<InventoryRow[]> {
    const [{loadConfig}, {pveFromConfig}, {inventory}] = await Promise.all([import('../../lib/config/load.js'), import('../../lib/proxmox/from-config.js'), import('../../lib/vm/inventory.js')])
    const loaded = await loadConfig(this.configPath, {resolveSecrets: true})
    const pve = await pveFromConfig(loaded)
    this.onClose(() => pve.close())
    const rows = await inventory(loaded, pve)
    const drifted = (r: InventoryRow) => [...r.drift, ...r.pending.map((k) => `${k} pending a reboot`)]
    this.log(table([['VMID', 'NAME', 'ROLE', 'STATE', 'IP', 'MANAGED', 'DRIFT'], ...rows.map((r) => [String(r.vmid), r.name, r.role ?? '-', r.state, r.ip ?? '-', r.managed, drifted(r).join('; ') || 'none'])]))
    return rows
  }
}
