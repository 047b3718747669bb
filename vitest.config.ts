import { defineConfig } from 'vitest/config';

// Tests run beside real parts (sshd, PostgreSQL, bubblewrap, loopback upstreams), so they get
// generous timeouts; speed is measured by `npm run bench`, never asserted here.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
