// Go's time.Duration.String(), exactly: the HariKube middleware parses the
// durations in the merged Secret with Go, and the Secret's bytes must not
// depend on how JavaScript formats numbers.
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
