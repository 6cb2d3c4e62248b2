/** One line of an `rg augment` output file with a hand-written passage and QA pairs (the rewrite is derived). */
export function augmentedLine(passageId: string, passage: string, qa: Array<{ question: string; answer: string }>): string {
  return JSON.stringify({
    passageId,
    passage,
    rewrite: `In other words: ${passage}`,
    qa,
    tags: [],
    description: 'x',
    generator: 'test',
    promptVersion: 'test',
    status: 'ok',
  });
}
