package message

import (
	"runtime"
	"strings"
	"testing"
)

// maxDecodeFactor is the documented bound (docs/SECURITY.md) on the ratio
// of the heap a payload decoded into an any value holds to the payload's
// size; the worst shapes measured (chains of one-entry objects, nested
// deep) hold about 66 times. internal/conn charges a payload decoded ahead
// into any the same factor (anyDecodeFactor; checked there by
// TestDecodeAheadChargesBoundHeldMemory): change both together.
const maxDecodeFactor = 80

// amplificationShapes are payloads that cost the most memory per byte
// when decoded into an any value: many tiny values, each boxed.
var amplificationShapes = map[string]func(n int) string{
	"array of {}":        func(n int) string { return "[" + strings.Repeat("{},", n/3) + "{}]" },
	"array of []":        func(n int) string { return "[" + strings.Repeat("[],", n/3) + "[]]" },
	"array of 0":         func(n int) string { return "[" + strings.Repeat("0,", n/2) + "0]" },
	"array of \"\"":      func(n int) string { return "[" + strings.Repeat(`"",`, n/3) + `""]` },
	"array of true":      func(n int) string { return "[" + strings.Repeat("true,", n/5) + "true]" },
	"array of null":      func(n int) string { return "[" + strings.Repeat("null,", n/5) + "null]" },
	"array of {\"a\":0}": func(n int) string { return "[" + strings.Repeat(`{"a":0},`, n/8) + `{"a":0}]` },
	"array of {\"\":1}":  func(n int) string { return "[" + strings.Repeat(`{"":1},`, n/7) + `{"":1}]` },
	"array of {\"\":{\"\":{}}}": func(n int) string {
		return "[" + strings.Repeat(`{"":{"":{}}},`, n/13) + `{"":{"":{}}}]`
	},
	"array of 8 nested {\"\":...}": func(n int) string {
		one := strings.Repeat(`{"":`, 8) + "0" + strings.Repeat("}", 8)
		return "[" + strings.Repeat(one+",", n/(len(one)+1)) + one + "]"
	},
	"array of {\"\":0}":    func(n int) string { return "[" + strings.Repeat(`{"":0},`, n/7) + `{"":0}]` },
	"array of {\"\":{}}":   func(n int) string { return "[" + strings.Repeat(`{"":{}},`, n/8) + `{"":{}}]` },
	"array of [{}]":        func(n int) string { return "[" + strings.Repeat("[{}],", n/5) + "[{}]]" },
	"array of [0]":         func(n int) string { return "[" + strings.Repeat("[0],", n/4) + "[0]]" },
	"array of {\"\":\"\"}": func(n int) string { return "[" + strings.Repeat(`{"":""},`, n/8) + `{"":""}]` },
	"array of 9,000-deep {\"\":...} chains": func(n int) string {
		one := strings.Repeat(`{"":`, 9000) + "0" + strings.Repeat("}", 9000)
		return "[" + strings.Repeat(one+",", n/(len(one)+1)) + one + "]"
	},
	"nested [[[...]]]": func(n int) string { return strings.Repeat("[", 5000) + strings.Repeat("]", 5000) },
	"object of numbers": func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := 0; b.Len() < n; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"`)
			b.WriteString(strings.Repeat("k", 1)) // short keys, made distinct below
			b.WriteString(itoa36(i))
			b.WriteString(`":0`)
		}
		b.WriteString("}")
		return b.String()
	},
}

func itoa36(i int) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 36 {
		b = append(b, digits[i%36])
	}
	return string(b)
}

func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Finding 6 of issue 8: decoding a payload into an any value can take
// many times the payload's size. The worst shapes stay within
// maxDecodeFactor, the figure docs/SECURITY.md puts in the memory bound.
func TestDecodeAmplification(t *testing.T) {
	const size = 1 << 20
	worst, worstName := 0.0, ""
	for name, shape := range amplificationShapes {
		payload := []byte(shape(size))
		before := liveHeap()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		allocated := ms.TotalAlloc
		var v any
		if err := JSON.Unmarshal(payload, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		runtime.ReadMemStats(&ms)
		allocated = ms.TotalAlloc - allocated
		held := float64(liveHeap()-before) / float64(len(payload))
		runtime.KeepAlive(v)
		t.Logf("%-24s %8d bytes: holds %5.1fx, allocates %5.1fx", name, len(payload), held, float64(allocated)/float64(len(payload)))
		if held > worst {
			worst, worstName = held, name
		}
		if held > maxDecodeFactor {
			t.Errorf("%s: a decoded payload holds %.1fx its size, more than the documented %dx", name, held, maxDecodeFactor)
		}
	}
	t.Logf("worst: %s, %.1fx", worstName, worst)
}
