package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
)

// OrderTopic is the topic of the S4 scenarios' messages.
const OrderTopic = "order"

// Order is the S4 message: an object of the size and shape applications
// send (numbers, strings, a nested object, an array of two objects, tags),
// about 330 bytes as JSON. Every field is derived from ID, so a receiver can
// check all of them (MakeOrder(id) is the expected value). The Node peer
// builds the same object (makeOrder in node/peer.js).
type Order struct {
	ID       int      `json:"id"`
	Customer Customer `json:"customer"`
	Items    []Item   `json:"items"`
	Total    float64  `json:"total"`
	Currency string   `json:"currency"`
	Paid     bool     `json:"paid"`
	Tags     []string `json:"tags"`
	Note     string   `json:"note"`
	Created  int64    `json:"created"`
}

// Customer is the nested object of an Order.
type Customer struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	City  string `json:"city"`
	Zip   string `json:"zip"`
}

// Item is one line of an Order.
type Item struct {
	SKU   string  `json:"sku"`
	Name  string  `json:"name"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
}

var (
	cities     = []string{"Springfield", "Zürich", "Lyon", "Osaka", "Porto"}
	currencies = []string{"EUR", "USD", "CHF"}
	products   = []string{"Widget", "Gadget", "Sprocket", "Gizmo"}
)

// MakeOrder returns order i; the same function exists in node/peer.js.
func MakeOrder(i int) Order {
	p1 := float64(100+i%9000) / 100 // cents to units: exact in both languages' float64
	p2 := float64(500+i%700) / 100
	q1, q2 := 1+i%5, 1+i%3
	return Order{
		ID: i,
		Customer: Customer{
			Name:  "Customer " + strconv.Itoa(i),
			Email: "customer" + strconv.Itoa(i) + "@example.com",
			City:  cities[i%len(cities)],
			Zip:   fmt.Sprintf("%05d", i%100000),
		},
		Items: []Item{
			{SKU: fmt.Sprintf("SKU-%05d", i%10007), Name: products[i%len(products)], Qty: q1, Price: p1},
			{SKU: fmt.Sprintf("SKU-%05d", i%10009), Name: products[(i+1)%len(products)], Qty: q2, Price: p2},
		},
		Total:    math.Round((float64(q1)*p1+float64(q2)*p2)*100) / 100,
		Currency: currencies[i%len(currencies)],
		Paid:     i%2 == 0,
		Tags:     []string{"express", "gift"}[:1+i%2],
		Note:     "Leave at the door & ring <twice>",
		Created:  1767225600000 + int64(i),
	}
}

// OrderPayloads returns the n orders encoded as JSON (what S4's senders
// send), made before any timing starts.
func OrderPayloads(n int) []json.RawMessage {
	out := make([]json.RawMessage, n)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as Node's JSON.stringify and the library write it
	for i := range out {
		buf.Reset()
		Check(enc.Encode(MakeOrder(i)))
		out[i] = bytes.Clone(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	}
	return out
}

// Orders returns orders 0 to n-1 as Go values (what S4c's senders send).
func Orders(n int) []Order {
	out := make([]Order, n)
	for i := range out {
		out[i] = MakeOrder(i)
	}
	return out
}

// OrderSeq checks that orders arrive as 0, 1, 2, ... with nothing lost,
// duplicated or reordered, and that every field is the expected one.
type OrderSeq struct {
	Name string
	Next int
	Max  int
}

// Check checks one decoded order.
func (s *OrderSeq) Check(o *Order) error {
	if err := s.checkID(o.ID); err != nil {
		return err
	}
	if want := MakeOrder(o.ID); !reflect.DeepEqual(*o, want) {
		return fmt.Errorf("%s: order %d: got %+v, want %+v", s.Name, o.ID, *o, want)
	}
	s.Next++
	return nil
}

// CheckAny checks one order decoded into any (map[string]any, []any,
// float64, ...), field by field, reading it as an application would.
func (s *OrderSeq) CheckAny(v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: message %d is a %T, not an object", s.Name, s.Next, v)
	}
	id, _ := m["id"].(float64)
	if err := s.checkID(int(id)); err != nil {
		return err
	}
	// Round-trip the expected order through any so numbers compare as float64.
	want := MakeOrder(int(id))
	b, _ := json.Marshal(want)
	var w any
	_ = json.Unmarshal(b, &w)
	if !reflect.DeepEqual(m, w) {
		return fmt.Errorf("%s: order %d: got %v, want %v", s.Name, int(id), m, w)
	}
	s.Next++
	return nil
}

func (s *OrderSeq) checkID(id int) error {
	switch {
	case s.Next >= s.Max:
		return fmt.Errorf("%s: an order after the %d expected ones: id %d", s.Name, s.Max, id)
	case id != s.Next:
		what := "out of order (an earlier one lost?)"
		if id < s.Next {
			what = "duplicated or reordered"
		}
		return fmt.Errorf("%s: expected order %d, got %d: %s", s.Name, s.Next, id, what)
	}
	return nil
}
