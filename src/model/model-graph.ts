import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { SQL_ROOT } from '../db/sql-files.js';
import { EXIT_CODES, PipelineError } from '../util/errors.js';

/** sql/models/models.yml: the models, their layer and what each reads. */
const modelDeclaration = z
  .object({
    name: z.string().regex(/^[a-z_][a-z0-9_]*$/),
    layer: z.enum(['staging', 'marts']),
    materialized: z.enum(['table', 'view', 'update']).default('table'),
    bulk_load: z.boolean().default(false),
    depends_on: z.array(z.string()).default([]),
  })
  .strict();

const modelsFile = z.object({ version: z.literal(1), models: z.array(modelDeclaration).min(1) }).strict();

export type ModelDeclaration = z.infer<typeof modelDeclaration>;

export const MODELS_FILE = path.join(SQL_ROOT, 'models', 'models.yml');

/** The file of a model's SQL, relative to sql/. */
export function modelSqlPath(model: ModelDeclaration): string {
  return `models/${model.layer}/${model.name}.sql`;
}

/**
 * The declared models in build order: every model after the ones it depends on, ties in the order
 * they are listed. An unknown dependency or a cycle is an error in the project, not in the data.
 */
export async function loadModels(file = MODELS_FILE): Promise<ModelDeclaration[]> {
  const parsed = modelsFile.safeParse(parse(await readFile(file, 'utf8')));
  if (!parsed.success) {
    throw new PipelineError(`${file}: invalid model declarations: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, EXIT_CODES.internal);
  }
  return buildOrder(parsed.data.models, file);
}

export function buildOrder(models: readonly ModelDeclaration[], file = 'models.yml'): ModelDeclaration[] {
  const byName = new Map(models.map((m) => [m.name, m]));
  if (byName.size !== models.length) throw new PipelineError(`${file}: a model is declared twice`, EXIT_CODES.internal);
  for (const m of models) {
    for (const d of m.depends_on) if (!byName.has(d)) throw new PipelineError(`${file}: ${m.name} depends on ${d}, which is not declared`, EXIT_CODES.internal);
  }
  const ordered: ModelDeclaration[] = [];
  const done = new Set<string>();
  while (ordered.length < models.length) {
    const next = models.find((m) => !done.has(m.name) && m.depends_on.every((d) => done.has(d)));
    if (!next) {
      const stuck = models.filter((m) => !done.has(m.name)).map((m) => m.name);
      throw new PipelineError(`${file}: the dependencies of ${stuck.join(', ')} form a cycle`, EXIT_CODES.internal);
    }
    ordered.push(next);
    done.add(next.name);
  }
  return ordered;
}
