import { createInterface } from 'node:readline';

/**
 * Asks a yes/no question on `output` and reads the answer from `input`: true only for y or yes.
 * Ctrl-C and end of input answer no (readline would otherwise only pause on Ctrl-C).
 */
export function confirm(question: string, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<boolean> {
  const reader = createInterface({ input, output });
  return new Promise((resolve) => {
    let answered = false;
    const answer = (yes: boolean, endLine = false) => {
      if (answered) return;
      if (endLine) output.write('\n');
      answered = true;
      reader.close();
      resolve(yes);
    };
    reader.on('SIGINT', () => answer(false, true));
    reader.on('close', () => answer(false, true));
    reader.question(question, (text) => answer(/^y(es)?$/i.test(text.trim())));
  });
}
