// Go's own time package over lists of values, for the tests that check our
// parser, our formatter and the CRD's pattern against Go: time.ParseDuration
// of strings, and time.Duration(n).String() of int64s. Not a test file itself.
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

const GO_FORMAT_PROGRAM = `package main

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
		n, err := strconv.ParseInt(in.Text(), 10, 64)
		if err != nil {
			panic(err)
		}
		fmt.Fprintln(out, time.Duration(n).String())
	}
}
`;

/** For each int64: Go's time.Duration(ns).String(). */
export function goFormatDurations(values: readonly bigint[]): string[] {
  const lines = runGo(GO_FORMAT_PROGRAM, values.map(String).join('\n') + '\n').split('\n');
  assert.equal(lines.pop(), '', 'output ends with a newline');
  assert.equal(lines.length, values.length);
  return lines;
}
