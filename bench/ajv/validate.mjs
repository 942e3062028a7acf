// ajv on the workload tel-bench writes: { schema, valid, invalid, iterations }.
// Prints { validNs, invalidNs, invalidErrors }: nanoseconds per validation.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const { schema, valid, invalid, iterations } = JSON.parse(readFileSync(process.argv[2], "utf8"));
// allErrors: report every error, as tel does.
const ajv = new Ajv2020({ allErrors: true });
addFormats(ajv);
const validate = ajv.compile(schema);

function time(instance) {
  for (let i = 0; i < 10000; i++) validate(instance); // warm up the JIT
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) validate(instance);
  return Number(process.hrtime.bigint() - start) / iterations;
}

const validNs = time(valid);
const invalidNs = time(invalid);
validate(invalid);
console.log(JSON.stringify({ validNs, invalidNs, invalidErrors: validate.errors.length }));
