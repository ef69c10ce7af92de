package conn

import (
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/socketipc/socketipc/message"
	"github.com/stretchr/testify/require"
)

func liveHeap() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func repeatJSON(one string, size int) string {
	return "[" + strings.Repeat(one+",", size/(len(one)+1)) + one + "]"
}

// What a value decoded ahead is charged must bound what it holds: both
// decodeCost (the worst case, set aside before decoding) and heldBy
// (computed from the value; the smaller of the two is charged) are checked
// against the live heap on the shapes that hold the most per byte for each
// rule of the bounds.
func TestDecodeAheadChargesBoundHeldMemory(t *testing.T) {
	const size = 1 << 20
	cases := []struct {
		name    string
		typ     reflect.Type
		payload string
	}{
		{"[]int of 0", reflect.TypeFor[[]int](), repeatJSON("0", size)},
		{"[]string of \"\"", reflect.TypeFor[[]string](), repeatJSON(`""`, size)},
		{"[]string of \"a\"", reflect.TypeFor[[]string](), repeatJSON(`"a"`, size)},
		{"[]*int of 0", reflect.TypeFor[[]*int](), repeatJSON("0", size)},
		{"[]*string of \"a\"", reflect.TypeFor[[]*string](), repeatJSON(`"a"`, size)},
		{"[][]int of []", reflect.TypeFor[[][]int](), repeatJSON("[]", size)},
		{"[][]int of [0]", reflect.TypeFor[[][]int](), repeatJSON("[0]", size)},
		{"[]struct of {}", reflect.TypeFor[[]aheadOrder](), repeatJSON("{}", size)},
		{"[]struct of items", reflect.TypeFor[[]aheadOrder](), repeatJSON(`{"items":[{}]}`, size)},
		{"[]map of {}", reflect.TypeFor[[]map[string]int](), repeatJSON("{}", size)},
		{"[]map of {\"\":0}", reflect.TypeFor[[]map[string]int](), repeatJSON(`{"":0}`, size)},
		{"map of many", reflect.TypeFor[map[string]int](), func() string {
			var b strings.Builder
			b.WriteString("{")
			for i := 0; b.Len() < size; i++ {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(`"` + itoa36(i) + `":0`)
			}
			return b.String() + "}"
		}()},
		{"[]any of {}", reflect.TypeFor[[]any](), repeatJSON("{}", size)},
		{"any of [{\"\":{\"\":{}}}]", reflect.TypeFor[any](), repeatJSON(`{"":{"":{}}}`, size)},
		{"any of 0", reflect.TypeFor[any](), repeatJSON("0", size)},
		{"any of \"a\"", reflect.TypeFor[any](), repeatJSON(`"a"`, size)},
	}
	for _, tc := range cases {
		payload := []byte(tc.payload)
		dc := decodeCostOf(tc.typ)
		if !dc.ok {
			t.Fatalf("%s: no bound for %v", tc.name, tc.typ)
		}
		before := liveHeap()
		ptr := reflect.New(tc.typ)
		if err := message.JSON.Unmarshal(payload, ptr.Interface()); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		held := liveHeap() - before
		charged := heldBy(ptr)
		worst := dc.fixed + dc.perByte*int64(len(payload))
		runtime.KeepAlive(ptr)
		t.Logf("%-26s holds %5.1fx its size; charged %5.1fx once decoded, %5.1fx before",
			tc.name, float64(held)/float64(len(payload)), float64(charged)/float64(len(payload)), float64(worst)/float64(len(payload)))
		if held > charged {
			t.Errorf("%s: holds %d bytes, more than the %d charged for it", tc.name, held, charged)
		}
		if held > worst {
			t.Errorf("%s: holds %d bytes, more than the worst case %d set aside", tc.name, held, worst)
		}
	}
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

// Types without a worked-out bound are never decoded ahead.
func TestDecodeAheadSkipsUnboundedTypes(t *testing.T) {
	type node struct{ Next *node }
	for _, typ := range []reflect.Type{
		reflect.TypeFor[node](),
		reflect.TypeFor[error](),
		reflect.TypeFor[message.DecodeError](),
		reflect.TypeFor[map[[2]int]int](),
		reflect.TypeFor[chan int](),
	} {
		if decodeCostOf(typ).ok {
			t.Errorf("%v has a bound; want none", typ)
		}
	}
}

// heldByAny gives what heldBy gives for the values decoding into any makes.
func TestHeldByAnyIsHeldBy(t *testing.T) {
	for _, payload := range []string{
		`null`, `true`, `1.5`, `""`, `"a"`, `"` + strings.Repeat("b", 40) + `"`, `[]`, `{}`,
		`[1,"x",null,false,[],{}]`, `{"a":1,"b":{"c":[1,2,{"d":"e"}]},"":""}`,
		`{` + strings.Repeat(`"k":1,`, 0) + `"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"10":[10]}`,
	} {
		var v any
		require.NoError(t, message.JSON.Unmarshal([]byte(payload), &v))
		require.Equal(t, heldBy(reflect.ValueOf(&v).Elem()), heldByAny(v), payload)
	}
}
