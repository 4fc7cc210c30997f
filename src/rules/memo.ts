// A bounded memo for pure functions of a string. Admission sees the same
// patterns again and again (mutate then validate, retries, re-applies), and
// compiling an RE2 program costs more than the rest of a review.
export function memoizeString<T>(
  fn: (input: string) => T,
  options: { maxEntries: number; maxInputLength: number },
): (input: string) => T {
  const cache = new Map<string, T>();
  return (input) => {
    // Long inputs are computed every time: the memo must stay small.
    if (input.length > options.maxInputLength) return fn(input);
    const hit = cache.get(input);
    if (hit !== undefined || cache.has(input)) return hit as T;
    const value = fn(input);
    // Insertion order is eviction order: the oldest entry goes first.
    if (cache.size >= options.maxEntries) cache.delete(cache.keys().next().value as string);
    cache.set(input, value);
    return value;
  };
}
