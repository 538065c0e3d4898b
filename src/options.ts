import type { z } from 'zod';
import { EmstreamOptionsError } from './errors.js';

function describeGot(options: unknown, path: readonly PropertyKey[]): string {
  if (path.length !== 1 || typeof options !== 'object' || options === null) return '';
  const value = (options as Record<PropertyKey, unknown>)[path[0]];
  if (typeof value === 'number' || typeof value === 'boolean') return ` (got ${String(value)})`;
  if (typeof value === 'string') return ` (got the string ${JSON.stringify(value)})`;
  if (value === null) return ' (got null)';
  return '';
}

/**
 * Validates options against a zod schema, or throws an {@link EmstreamOptionsError} listing every
 * issue with its option path, what was given, and what is expected.
 *
 * @param schema the zod schema of the options
 * @param options what the caller gave
 * @param operator name of the operator or function, for the message
 * @returns the parsed options (with defaults applied)
 */
export function parseOptions<S extends z.ZodType>(schema: S, options: unknown, operator: string): z.output<S> {
  const result = schema.safeParse(options);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const got = issue.code === 'custom' ? '' : describeGot(options, issue.path);
    return { path: issue.path.map(String).join('.'), message: `${issue.message}${got}` };
  });
  throw new EmstreamOptionsError(operator, issues, result.error);
}
