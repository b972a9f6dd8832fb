import { defineConfig } from 'vite';

// Static build into dist/ (served by the broadcaster at GET /). Relative asset URLs so the
// same files work at / and behind a path prefix.
export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
  },
  test: {
    include: ['tests/unit/**/*.test.js'],
    environment: 'node',
  },
});
