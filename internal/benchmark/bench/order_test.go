package bench

import (
	"encoding/json"
	"testing"
)

// TestOrders checks the order helpers against encoding/json: the spliced
// encoding is the encoding, and the checks accept exactly the right order.
func TestOrders(t *testing.T) {
	for _, i := range []int{0, 1, 999, 1000, 123456} {
		o := MakeOrder(i)
		b := AppendOrderJSON(nil, i)
		var back Order
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("order %d: %s: %v", i, b, err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		s := OrderSeq{Name: "t", Next: i, Max: i + 1}
		if err := s.Check(&back); err != nil {
			t.Fatal(err)
		}
		s = OrderSeq{Name: "t", Next: i, Max: i + 1}
		if err := s.CheckAny(v); err != nil {
			t.Fatal(err)
		}
		back.Items = append([]Item(nil), back.Items...)
		back.Items[1].Qty++
		s = OrderSeq{Name: "t", Next: i, Max: i + 1}
		if s.Check(&back) == nil {
			t.Fatalf("order %d with a wrong quantity passed", i)
		}
		v.(map[string]any)["note"] = "x"
		if s.CheckAny(v) == nil {
			t.Fatalf("order %d with a wrong note passed", i)
		}
		if o.ID != i {
			t.Fatal(o.ID)
		}
	}
	t.Logf("order 123456: %d bytes: %s", len(AppendOrderJSON(nil, 123456)), AppendOrderJSON(nil, 123456))
}
