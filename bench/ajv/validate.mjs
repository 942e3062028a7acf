// ajv on the workload tel-bench writes: { schema, valid, shuffled, invalid, iterations }.
// Prints { validNs, shuffledNs, invalidNs, invalidErrors }: nanoseconds per validation.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const { schema, valid, shuffled, invalid, iterations } = JSON.parse(readFileSync(process.argv[2], "utf8"));
// allErrors: report every error, as tel does.
const ajv = new Ajv2020({ allErrors: true });
addFormats(ajv);
const validate = ajv.compile(schema);

// The best of as many rounds as tel-bench takes of tel's own (7): this
// host's speed wanders from minute to minute, and both sides are measured
// the same way.
const ROUNDS = 7;

function time(instance) {
  for (let i = 0; i < 10000; i++) validate(instance); // warm up the JIT
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) validate(instance);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / iterations);
  }
  return best;
}

const validNs = time(valid);
const shuffledNs = time(shuffled);
const invalidNs = time(invalid);
validate(invalid);
console.log(JSON.stringify({ validNs, shuffledNs, invalidNs, invalidErrors: validate.errors.length }));
