// Go's time.Duration.String() and time.ParseDuration(), exactly: the HariKube
// middleware parses the durations in the merged Secret with Go, and the
// Secret's bytes must not depend on how JavaScript formats numbers; the
// server's flags take durations as Go operators do.
//
// Rules (from Go's time package): below one second, one unit (ns, µs with
// U+00B5 MICRO SIGN, ms) with a decimal fraction, trailing zeros dropped;
// from one second up, [h][m]s where minutes appear once there is a whole
// minute, hours once there is a whole hour, and the seconds carry up to nine
// fractional digits, trailing zeros dropped. Zero is "0s".

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SECOND = 1_000_000_000n;

/** `value / 10^digits` with the fraction written out, trailing zeros (and a bare dot) dropped. */
function decimal(value: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const whole = value / scale;
  const fraction = (value % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : `${whole}`;
}

/**
 * Formats nanoseconds as Go's `time.Duration(ns).String()`. A number must be a
 * safe integer (a larger one has already lost precision, so callers must keep
 * such values as bigint); a bigint must fit in int64.
 */
export function formatGoDuration(ns: number | bigint): string {
  let value: bigint;
  if (typeof ns === 'number') {
    if (!Number.isSafeInteger(ns)) {
      throw new RangeError(`duration ${ns} is not a safe integer number of nanoseconds`);
    }
    value = BigInt(ns);
  } else {
    if (ns < INT64_MIN || ns > INT64_MAX) {
      throw new RangeError(`duration ${ns} is outside the int64 range`);
    }
    value = ns;
  }
  if (value === 0n) return '0s';
  const sign = value < 0n ? '-' : '';
  // Magnitude as bigint, so math.MinInt64 needs no special case.
  const u = value < 0n ? -value : value;

  if (u < SECOND) {
    if (u < 1_000n) return `${sign}${u}ns`;
    if (u < 1_000_000n) return `${sign}${decimal(u, 3)}µs`;
    return `${sign}${decimal(u, 6)}ms`;
  }

  const seconds = u / SECOND;
  const secondsPart = `${decimal((seconds % 60n) * SECOND + (u % SECOND), 9)}s`;
  const minutes = seconds / 60n;
  if (minutes === 0n) return `${sign}${secondsPart}`;
  const hours = minutes / 60n;
  if (hours === 0n) return `${sign}${minutes}m${secondsPart}`;
  return `${sign}${hours}h${minutes % 60n}m${secondsPart}`;
}

// Nanoseconds per unit, as Go's unitMap (both micro signs: U+00B5 and U+03BC).
const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  μs: 1_000n,
  ms: 1_000_000n,
  s: SECOND,
  m: 60n * SECOND,
  h: 3_600n * SECOND,
};
const LIMIT = 2n ** 63n; // the magnitude of math.MinInt64

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Go's `time.ParseDuration(text)` in nanoseconds, or undefined where Go
 * returns an error: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or "0"; each number
 * scaled by its unit, a fraction rounded toward zero as Go does it (in
 * float64), and int64 overflow an error.
 */
export function parseGoDuration(text: string): bigint | undefined {
  let s = text;
  let negative = false;
  if (s[0] === '-' || s[0] === '+') {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') return undefined;
  let total = 0n;
  let i = 0;
  while (i < s.length) {
    if (!(s[i] === '.' || isDigit(s[i]))) return undefined;
    let whole = 0n;
    const wholeStart = i;
    for (; isDigit(s[i]); i++) {
      whole = whole * 10n + BigInt(s.charCodeAt(i) - 48);
      if (whole > LIMIT) return undefined;
    }
    const hasWhole = i > wholeStart;
    let fraction = 0n;
    let scale = 1;
    let hasFraction = false;
    if (s[i] === '.') {
      i++;
      const fractionStart = i;
      let overflow = false;
      for (; isDigit(s[i]); i++) {
        if (overflow) continue;
        const next = fraction * 10n + BigInt(s.charCodeAt(i) - 48);
        // Go stops taking digits once they no longer fit (the rest are below a nanosecond).
        if (fraction > (LIMIT - 1n) / 10n || next > LIMIT) {
          overflow = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
      hasFraction = i > fractionStart;
    }
    if (!hasWhole && !hasFraction) return undefined;
    const unitStart = i;
    while (i < s.length && !(s[i] === '.' || isDigit(s[i]))) i++;
    const unit = UNIT_NS[s.slice(unitStart, i)];
    if (unit === undefined) return undefined;
    if (whole > LIMIT / unit) return undefined;
    let value = whole * unit;
    if (fraction > 0n) {
      value += BigInt(Math.trunc(Number(fraction) * (Number(unit) / scale)));
      if (value > LIMIT) return undefined;
    }
    total += value;
    if (total > LIMIT) return undefined;
  }
  if (negative) return -total;
  return total > INT64_MAX ? undefined : total;
}

/** The longest Go duration: math.MaxInt64 nanoseconds. */
export const MAX_GO_DURATION = formatGoDuration(INT64_MAX);

/**
 * A duration as the CRD admits it (nanoseconds, or a Go duration string) in
 * Go's canonical form, so `5m`, `300s` and 300000000000 write the same bytes.
 */
export function canonicalGoDuration(value: number | bigint | string): string {
  if (typeof value !== 'string') return formatGoDuration(value);
  const ns = parseGoDuration(value);
  if (ns === undefined) throw new RangeError('not a Go duration string');
  return formatGoDuration(ns);
}
