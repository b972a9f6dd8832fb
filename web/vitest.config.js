import { defineConfig } from 'vitest/config';

// Unit tests only: the dashboard itself (app/) is served as written, with no build step.
export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.js'],
    environment: 'node',
  },
});
