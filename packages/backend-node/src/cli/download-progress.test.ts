import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createDownloadProgress } from './download-progress.js';

/** A stream that says it is a terminal and keeps what is written. */
function fakeTty(): Writable & { isTTY: boolean; columns: number; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & {
    isTTY: boolean;
    columns: number;
    text: () => string;
    cursorTo: () => boolean;
    clearLine: () => boolean;
    moveCursor: () => boolean;
  };
  stream.isTTY = true;
  stream.columns = 200;
  stream.cursorTo = () => true;
  stream.clearLine = () => true;
  stream.moveCursor = () => true;
  stream.text = () => chunks.join('');
  return stream;
}

describe('download progress bar', () => {
  it('shows the bytes of all files, the file count and the current file on a TTY', () => {
    const tty = fakeTty();
    const bar = createDownloadProgress(tty, true);
    bar.update({
      file: 'unet/model.onnx',
      fileBytes: 1_000_000,
      fileTotal: 4_000_000,
      bytes: 1_500_000,
      total: 6_000_000,
      filesDone: 3,
      filesTotal: 9,
    });
    bar.stop();
    const text = tty.text();
    expect(text).toContain('download |');
    expect(text).toContain('25%');
    expect(text).toContain('1.50/6.00 MB');
    expect(text).toContain('files 3/9');
    expect(text).toContain('unet/model.onnx');
  });

  it('writes nothing when disabled (not a TTY, or --json)', () => {
    const tty = fakeTty();
    const bar = createDownloadProgress(tty, false);
    bar.update({ file: 'a', fileBytes: 1, fileTotal: 2, bytes: 1, total: 2, filesDone: 0, filesTotal: 1 });
    bar.stop();
    expect(tty.text()).toBe('');
  });
});
