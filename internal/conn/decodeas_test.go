package conn

import (
	"reflect"
	"testing"

	"github.com/socketipc/socketipc/message"
)

// DecodeAs takes the value the reader decoded ahead for its type, once;
// without one, or for another type, it decodes the payload itself.
func TestDecodeAsTakesWhatWasDecodedAhead(t *testing.T) {
	from := &origin{transcoder: message.JSON}
	ahead := &aheadOther{ID: "decoded ahead"}
	m := Msg{Payload: []byte(`{"id":"on delivery"}`), from: from,
		pre: &preSlot{typ: reflect.TypeFor[aheadOther](), val: ahead}}
	var v aheadOther
	if err := DecodeAs(&m, &v); err != nil || v.ID != "decoded ahead" {
		t.Fatalf("first DecodeAs = %+v, %v; want the value decoded ahead", v, err)
	}
	var again aheadOther
	if err := DecodeAs(&m, &again); err != nil || again.ID != "on delivery" {
		t.Fatalf("second DecodeAs = %+v, %v; want a decode of its own", again, err)
	}

	m = Msg{Payload: []byte(`[1,2]`), from: from, pre: &preSlot{typ: reflect.TypeFor[any](), val: []any{1.0, 2.0}}}
	var a any
	if err := DecodeAs(&m, &a); err != nil || !reflect.DeepEqual(a, []any{1.0, 2.0}) {
		t.Fatalf("DecodeAs into any = %v, %v", a, err)
	}
	var wrong aheadOther
	if err := DecodeAs(&Msg{Payload: []byte(`"text"`), from: from}, &wrong); err == nil {
		t.Fatal("a payload that does not fit decoded without error")
	}
}
