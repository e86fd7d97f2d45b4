/**
 * Check the cluster's health: bootstrap's own step, the checks of `kp health` (CRITICAL fails, pods
 * still starting waited for a while), on the upgraded cluster.
 */
import type {Step} from '../../engine/types.js'
import {checkHealth as bootstrapHealth} from '../bootstrap/health.js'
import type {UpgradeFacts, UpgradeParams} from './facts.js'

export const checkHealth = bootstrapHealth as unknown as Step<UpgradeFacts, UpgradeParams>
