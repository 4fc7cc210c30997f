// An upper bound on the size of the program RE2 compiles a pattern into,
// computed in one pass over the text, without compiling. Compiling costs time
// and memory in proportion to that size (re2js: a few µs and a few hundred
// bytes per instruction; `\pL{1000}` written 1,000 times is a million of them,
// seconds and hundreds of MB), so the rules refuse a pattern whose bound is
// too large before re2js ever sees it. The arithmetic is RE2's own (Go's
// regexp/syntax calcSize): a repetition x{n,m} costs m copies of x plus m-n,
// x* two more than x, a capture two more, an alternation one per '|', an empty
// match (x{0}, an empty group or alternative) one no-op. The bound
// only has to be an upper bound for valid patterns: re2js still judges syntax.

interface Frame {
  /** Sum of the finished alternatives. */
  alternatives: number;
  bars: number;
  /** The alternative being read. */
  current: number;
  /** Size of the last atom of `current`, which a repetition would apply to. */
  last: number;
  capture: boolean;
}

const frame = (capture: boolean): Frame => ({
  alternatives: 0,
  bars: 0,
  current: 0,
  last: 0,
  capture,
});

const REPEAT = /^\{(\d+)(,(\d*))?\}/;
/** RE2 refuses counts above 1000; a larger one is clamped here and refused by re2js. */
const MAX_COUNT = 1000;

/** An empty alternative still compiles to one instruction (a no-op). */
const nonEmpty = (size: number) => Math.max(1, size);

const close = (f: Frame) => f.alternatives + nonEmpty(f.current) + f.bars + (f.capture ? 2 : 0);

/** Index just past a character class starting at `start` ('['). */
function skipClass(pattern: string, start: number): number {
  let i = start + 1;
  if (pattern[i] === '^') i++;
  if (pattern[i] === ']') i++; // a leading ']' is a literal
  while (i < pattern.length && pattern[i] !== ']') {
    if (pattern[i] === '\\') i += 2;
    else if (pattern.startsWith('[:', i)) {
      const end = pattern.indexOf(':]', i + 2);
      i = end === -1 ? i + 1 : end + 2;
    } else i++;
  }
  return i + 1;
}

/** Index just past an escape starting at `start` ('\\'). */
function skipEscape(pattern: string, start: number): number {
  const c = pattern[start + 1];
  if ((c === 'p' || c === 'P' || c === 'x') && pattern[start + 2] === '{') {
    const end = pattern.indexOf('}', start + 3);
    return end === -1 ? pattern.length : end + 1;
  }
  if (c === 'p' || c === 'P') return start + 3;
  if (c === 'x') return start + 4;
  return start + 2;
}

/** The upper bound; `Infinity` never (every count is clamped), so it is always comparable. */
export function patternSize(pattern: string): number {
  const stack: Frame[] = [frame(false)];
  const top = () => stack[stack.length - 1]!;
  const atom = (size: number) => {
    const f = top();
    f.current += size;
    f.last = size;
  };
  const repeat = (size: number) => {
    const f = top();
    f.current += size - f.last;
    f.last = size;
  };
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      if (pattern[i + 1] === 'Q') {
        // \Q…\E: each character a literal.
        const end = pattern.indexOf('\\E', i + 2);
        const stop = end === -1 ? pattern.length : end;
        for (let j = i + 2; j < stop; j++) atom(1);
        i = end === -1 ? stop : end + 2;
        continue;
      }
      const next = skipEscape(pattern, i);
      atom(1);
      i = next;
    } else if (c === '[') {
      atom(1);
      i = skipClass(pattern, i);
    } else if (c === '(') {
      let capture = true;
      if (pattern[i + 1] === '?') {
        // (?flags) sets flags and is no group; (?flags:…) and (?P<name>…) are.
        const close = /^\(\?[a-zA-Z-]*\)/.exec(pattern.slice(i, i + 16));
        if (close) {
          i += close[0].length;
          continue;
        }
        capture = /^\(\?P?</.test(pattern.slice(i, i + 4));
        const body = pattern.indexOf(capture ? '>' : ':', i);
        i = body === -1 ? pattern.length : body + 1;
      } else i++;
      stack.push(frame(capture));
    } else if (c === ')') {
      if (stack.length > 1) {
        const size = close(stack.pop()!);
        atom(size);
      }
      i++;
    } else if (c === '|') {
      const f = top();
      f.alternatives += nonEmpty(f.current);
      f.bars++;
      f.current = 0;
      f.last = 0;
      i++;
    } else if (c === '*') {
      repeat(top().last + 2);
      i++;
    } else if (c === '+' || c === '?') {
      repeat(top().last + 1);
      i++;
    } else if (c === '{' && REPEAT.test(pattern.slice(i, i + 12))) {
      const m = REPEAT.exec(pattern.slice(i, i + 12))!;
      const min = Math.min(Number(m[1]), MAX_COUNT);
      const unbounded = m[2] !== undefined && m[3] === '';
      const max = m[2] === undefined ? min : unbounded ? -1 : Math.min(Number(m[3]), MAX_COUNT);
      const sub = top().last;
      if (max === -1) repeat(min === 0 ? 2 + sub : 1 + min * sub);
      else if (max === 0)
        repeat(1); // x{0} is the empty match
      else repeat(max * sub + Math.max(0, max - min));
      i += m[0].length;
    } else {
      atom(1);
      i++;
    }
  }
  while (stack.length > 1) {
    const size = close(stack.pop()!);
    atom(size);
  }
  return Math.max(1, close(stack[0]!));
}
