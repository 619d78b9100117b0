/* eslint-disable no-console -- a command-line report */
// Summarises a V8 .cpuprofile (bench/request-profile.ts with BENCH_PROFILE): self time by module and by function,
// and inclusive time by function, as % of the profile's wall time ("(idle)" is the event loop waiting).
// Usage: node bench/profile-summary.mjs <file.cpuprofile> [rows]
import { readFileSync } from 'node:fs';

const profile = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const rows = Number(process.argv[3] ?? 30);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const d = profile.timeDeltas[i] ?? 0;
  total += d;
  self.set(id, (self.get(id) ?? 0) + d);
});
const nameOf = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`;
const moduleOf = (n) => {
  const url = n.callFrame.url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.includes('/src/')) return `src/${url.split('/src/')[1]}`;
  return url || n.callFrame.functionName;
};
const add = (map, key, t) => map.set(key, (map.get(key) ?? 0) + t);
const selfByFunction = new Map();
const selfByModule = new Map();
const inclusive = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  add(selfByFunction, nameOf(n), t);
  add(selfByModule, moduleOf(n), t);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const key = nameOf(byId.get(cur));
    if (!seen.has(key)) add(inclusive, key, t);
    seen.add(key);
  }
}
const print = (title, map, n) => {
  console.log(`--- ${title}`);
  for (const [key, t] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${((100 * t) / total).toFixed(1).padStart(5)} %  ${key}`);
};
console.log(`profile: ${(total / 1000).toFixed(0)} ms`);
print('self, by module', selfByModule, rows);
print('self, by function', selfByFunction, rows);
print('inclusive, by function', inclusive, rows * 2);
