// Go's own time package over lists of values, for the tests that check our
// parser, our formatter and the CRD's pattern against Go: time.ParseDuration
// of strings, and time.Duration(n).String() of int64s. Not a test file itself.
import assert from 'node:assert/strict';
import { runGo } from '../crypto/run-go.ts';

// One request a line: `parse <Go-quoted string>` or `format <int64>`.
const GO_PROGRAM = `package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		op, arg, _ := strings.Cut(in.Text(), " ")
		switch op {
		case "parse":
			text, err := strconv.Unquote(arg)
			if err != nil {
				panic(err)
			}
			if d, err := time.ParseDuration(text); err != nil {
				fmt.Fprintln(out, "error")
			} else {
				fmt.Fprintln(out, int64(d))
			}
		case "format":
			n, err := strconv.ParseInt(arg, 10, 64)
			if err != nil {
				panic(err)
			}
			fmt.Fprintln(out, time.Duration(n).String())
		default:
			panic(op)
		}
	}
}
`;

function askGo(requests: readonly string[]): string[] {
  const lines = runGo(GO_PROGRAM, requests.join('\n') + '\n').split('\n');
  assert.equal(lines.pop(), '', 'output ends with a newline');
  assert.equal(lines.length, requests.length);
  return lines;
}

/** For each text: Go's time.ParseDuration in nanoseconds (decimal), or "error". */
export const goParseDurations = (texts: readonly string[]): string[] =>
  askGo(texts.map((t) => `parse ${JSON.stringify(t)}`));

/** For each int64: Go's time.Duration(ns).String(). */
export const goFormatDurations = (values: readonly bigint[]): string[] =>
  askGo(values.map((n) => `format ${n}`));
