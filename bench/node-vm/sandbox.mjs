// The anchor for tel's sandbox (docs/benchmarks.md): the bench's JS task in
// a fresh node:vm context per task, the way tel gives each attempt a fresh
// QuickJS runtime: the script compiled once, a new context, the input
// frozen in, the function called, its result serialised. Prints µs per
// task as JSON (`tel-bench inprocess` runs it and prints it beside tel's).
//
//   node bench/node-vm/sandbox.mjs [iterations]

import vm from 'node:vm';

const SOURCE = `(order) => {
  const subtotal = order.items.reduce((s, i) => s + i.price * i.quantity, 0);
  return { orderId: order.orderId, total: subtotal };
}`;
const input = JSON.stringify({ orderId: 'o-1', items: [{ sku: 'a', price: 9.5, quantity: 2 }, { sku: 'b', price: 3.25, quantity: 4 }] });
const script = new vm.Script(`JSON.stringify((${SOURCE})(deepFreeze(JSON.parse(input))))`);
const prelude = new vm.Script(`globalThis.deepFreeze = (o) => { if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) { Object.freeze(o); for (const k of Object.keys(o)) deepFreeze(o[k]); } return o; }`);

function once() {
  const context = vm.createContext({ input });
  prelude.runInContext(context);
  return script.runInContext(context);
}

const n = Number(process.argv[2] ?? 3000);
for (let i = 0; i < 200; i += 1) once();
const samples = [];
for (let i = 0; i < n; i += 1) {
  const t = process.hrtime.bigint();
  once();
  samples.push(Number(process.hrtime.bigint() - t) / 1000);
}
samples.sort((a, b) => a - b);
const mean = samples.reduce((a, b) => a + b, 0) / n;
console.log(JSON.stringify({ p50Us: samples[n >> 1], p90Us: samples[Math.floor(n * 0.9)], meanUs: mean }));
