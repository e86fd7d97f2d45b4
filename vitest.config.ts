import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Child-process tests are I/O bound; two workers suit the 2-core CI machine.
    maxWorkers: 2,
  },
})
