// Go's own time.ParseDuration over a list of strings, for the tests that check
// our parser and the CRD's pattern against Go. Not a test file itself.
import assert from 'node:assert/strict';
import { runGo } from '../crypto/run-go.ts';

const GO_PARSE_PROGRAM = `package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		text, err := strconv.Unquote(in.Text())
		if err != nil {
			panic(err)
		}
		d, err := time.ParseDuration(text)
		if err != nil {
			fmt.Fprintln(out, "error")
		} else {
			fmt.Fprintln(out, int64(d))
		}
	}
}
`;

/** For each text: Go's time.ParseDuration in nanoseconds (decimal), or "error". */
export function goParseDurations(texts: readonly string[]): string[] {
  const lines = runGo(
    GO_PARSE_PROGRAM,
    texts.map((t) => JSON.stringify(t)).join('\n') + '\n',
  ).split('\n');
  assert.equal(lines.pop(), '', 'output ends with a newline');
  assert.equal(lines.length, texts.length);
  return lines;
}
