// V8's own answers about how it holds a value (what a memory cut relies on),
// for the tests that check those cuts. An intrinsic is parsed only while
// --allow-natives-syntax is set, so the function is made with it set, once.
import { setFlagsFromString } from 'node:v8';

function intrinsic<A extends unknown[]>(
  name: string,
  ...params: string[]
): (...args: A) => boolean {
  setFlagsFromString('--allow-natives-syntax');
  try {
    return new Function(...params, `return %${name}(${params.join(', ')})`) as (
      ...args: A
    ) => boolean;
  } finally {
    setFlagsFromString('--no-allow-natives-syntax');
  }
}

/** Whether an object keeps its properties in a fast layout, not as a hash table. */
export const hasFastProperties = intrinsic<[object]>('HasFastProperties', 'o');
/** Whether a string is V8's internalized copy: flat, and shared by every equal one. */
export const isInternalized = intrinsic<[string]>('IsInternalizedString', 's');
