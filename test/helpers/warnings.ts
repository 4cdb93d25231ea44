/** Process warnings of one code, as a test sees them: `seen()` waits a turn (warnings are emitted on the next tick). */
export function collectWarnings(code: string): { seen: () => Promise<Error[]>; stop: () => void } {
  const list: Error[] = [];
  const listener = (w: Error) => { if ((w as Error & { code?: string }).code === code) list.push(w); };
  process.on('warning', listener);
  return {
    seen: async () => { await new Promise((r) => setImmediate(r)); return list; },
    stop: () => { process.off('warning', listener); },
  };
}
