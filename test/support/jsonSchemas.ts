/**
 * The published JSON Schemas (schemas/*.schema.json) loaded into one Ajv (JSON Schema 2020-12, with
 * formats), so references between them (`check.schema.json#/$defs/diagnostic`) resolve; for the
 * unit test that holds them to the TypeScript types and the integration test that holds the real
 * CLI's output to them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

export const SCHEMA_NAMES = ['check', 'run', 'compare', 'templates'] as const;
export const schemasDir = join(__dirname, '..', '..', 'schemas');

export function schemaValidator(): Ajv2020 {
  // Union types (`["integer", "null"]`) are how the schemas say "unknown"; allErrors names every mismatch at once.
  const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  for (const name of SCHEMA_NAMES) ajv.addSchema(JSON.parse(readFileSync(join(schemasDir, `${name}.schema.json`), 'utf8')), `${name}.schema.json`);
  return ajv;
}

/** Undefined when @value is valid against @schemaRef (a schema name, optionally with a `#/…` pointer); else Ajv's errors. */
export function schemaErrors(ajv: Ajv2020, schemaRef: string, value: unknown): string | undefined {
  const validate = ajv.getSchema(schemaRef);
  if (validate === undefined) return `no schema ${schemaRef}`;
  return validate(value) ? undefined : ajv.errorsText(validate.errors);
}
