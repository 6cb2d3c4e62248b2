/** Bad dataset input: names the file, and where known the line and field, and what was expected. */
export class DatasetError extends Error {
  override name = 'DatasetError';
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly where: { line?: number; field?: string } = {},
  ) {
    const at = [where.line !== undefined ? `line ${where.line}` : '', where.field !== undefined ? `field "${where.field}"` : '']
      .filter(Boolean)
      .join(', ');
    super(`${file}${at ? ` (${at})` : ''}: ${problem}`);
  }
}
