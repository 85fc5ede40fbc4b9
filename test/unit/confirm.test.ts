import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { confirm } from '../../src/cli/confirm.js';

describe('confirm', () => {
  const ask = (typed: string | null) => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (chunk: Buffer) => (shown += chunk.toString('utf8')));
    const answer = confirm('Drop it? [y/N] ', input, output);
    if (typed === null) input.end();
    else input.write(typed);
    return answer.then((yes) => ({ yes, shown }));
  };

  it.each(['y\n', 'yes\n', 'YES\n', ' Yes \n'])('%j is yes', async (typed) => {
    expect(await ask(typed)).toMatchObject({ yes: true, shown: expect.stringContaining('Drop it? [y/N] ') as unknown });
  });

  it.each(['\n', 'n\n', 'no\n', 'yess\n', 'sure\n'])('%j is no', async (typed) => {
    expect((await ask(typed)).yes).toBe(false);
  });

  it('end of input is no', async () => {
    expect((await ask(null)).yes).toBe(false);
  });
});
