// Summarise a .cpuprofile: self time by function and by file (top N).
import { readFileSync } from 'node:fs';
const prof = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas; let total = 0;
for (let i = 0; i < prof.samples.length; i++) { const n = byId.get(prof.samples[i]); const d = dt[i] ?? 0; total += d; self.set(n.id, (self.get(n.id) ?? 0) + d); }
// inclusive: build parent map
const parent = new Map(); for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const incl = new Map();
for (const [id, t] of self) { const seen = new Set(); let cur = id; while (cur !== undefined) { const n = byId.get(cur); const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`; if (!seen.has(key)) { incl.set(key, (incl.get(key) ?? 0) + t); seen.add(key);} cur = parent.get(cur); } }
const selfBy = new Map(); const fileBy = new Map();
for (const [id, t] of self) { const n = byId.get(id); const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`; selfBy.set(key, (selfBy.get(key) ?? 0) + t);
 const u = n.callFrame.url; const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u); const f = m ? m[1] : (u.includes('/src/') ? 'src/' + u.split('/src/')[1] : (u || n.callFrame.functionName)); fileBy.set(f, (fileBy.get(f) ?? 0) + t); }
const N = Number(process.argv[3] ?? 30);
const pct = (t) => (100 * t / total).toFixed(1);
console.log('total ms', (total/1000).toFixed(0));
console.log('--- self by module'); for (const [k, t] of [...fileBy].sort((a, b) => b[1] - a[1]).slice(0, N)) console.log(pct(t), k);
console.log('--- self by function'); for (const [k, t] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, N)) console.log(pct(t), k);
console.log('--- inclusive'); for (const [k, t] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, N*2)) console.log(pct(t), k);
