// Builds the console into dist/console (or --outDir), served by the API at /console/.
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  // JSX through Vite's own transform (automatic runtime): no React plugin needed for a production build.
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: resolve(import.meta.dirname, '../../dist/console'),
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    // `npm run console:dev`: the API on :3000 answers REST and Socket.IO.
    proxy: {
      '/v1': 'http://127.0.0.1:3000',
      '/socket.io': { target: 'http://127.0.0.1:3000', ws: true },
    },
  },
});
