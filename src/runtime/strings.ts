// Strings the process holds for as long as a config lives (index keys,
// selectors' canonical forms, key prefixes). V8 keeps a string built by `+`
// or a template as a tree of its parts (32 bytes per join, plus the parts),
// and a slice of 13 or more characters as a view that keeps its whole
// parent alive. The internalized copy is flat, and shared by every equal
// string the process holds; the string table holds it weakly.

/** A flat copy of `value`, shared with every equal internalized string. */
export function flatString(value: string): string {
  // A property key is internalized; Object.keys gives that copy back.
  return Object.keys({ [value]: 0 })[0]!;
}
