import {defineConfig} from 'vitest/config'

// Files that bring up the machine-wide lab (one bridge, one lab lock): never two at once.
const LAB_FILES = ['test/lab/host/lab-host.test.ts', 'test/lab/cli/lab-cli.test.ts', 'test/vm/vm-lab.test.ts', 'test/node/node-prepare-lab.test.ts', 'test/bootstrap/bootstrap-lab.test.ts', 'test/lab/kubeadm/kubeadm-lab.test.ts', 'test/lab/kubeadm/etcd.test.ts', 'test/lab/kubeadm/certs-lab.test.ts', 'test/lab/host/updates.test.ts', 'test/lab/node/patch.test.ts', 'test/lab/certs/rotate.test.ts', 'test/lab/kubeadm/upgrade-lab.test.ts', 'test/lab/upgrade/upgrade.test.ts']

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Child-process tests are I/O bound; two workers suit the 2-core CI machine.
    maxWorkers: 2,
    projects: [
      {extends: true, test: {exclude: LAB_FILES, include: ['test/**/*.test.ts'], name: 'kp'}},
      {extends: true, test: {fileParallelism: false, include: LAB_FILES, name: 'lab'}},
    ],
  },
})
