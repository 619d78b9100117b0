import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The hosted sign-in pages and the admin console: a static build into dist/console, served by the server
 * (src/http/web-console.ts). Assets are hashed (cached a year), and nothing is inlined as script: the server's CSP
 * allows scripts from 'self' only.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    // A data: URL for small assets would need img-src/font-src data: (the CSP allows images only).
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
    reportCompressedSize: false,
  },
});
