package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"sync"
)

// OrderTopic is the topic of the S4 scenarios' messages.
const OrderTopic = "order"

// Order is the S4 message: an object of the size and shape applications
// send (numbers, strings, a nested object, an array of two objects, tags),
// about 330 bytes as JSON. Order i is template i % OrderTemplates with its
// own ID and Created, so senders make each one cheaply (the senders' CPU is
// then spent sending) and receivers check every field cheaply. The Node
// peer builds the same objects (makeOrder in node/peer.js).
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

// OrderTemplates is how many distinct orders there are besides their ID.
const OrderTemplates = 1000

// createdBase is the Created of order 0 (a time in milliseconds).
const createdBase = 1767225600000

var (
	cities     = []string{"Springfield", "Zürich", "Lyon", "Osaka", "Porto"}
	currencies = []string{"EUR", "USD", "CHF"}
	products   = []string{"Widget", "Gadget", "Sprocket", "Gizmo"}
)

// template returns order template k; the same formulas are in node/peer.js.
func template(k int) Order {
	p1 := float64(100+(k*37)%9000) / 100 // cents to units: the same float64 in both languages
	p2 := float64(500+(k*13)%700) / 100
	q1, q2 := 1+k%5, 1+k%3
	return Order{
		Customer: Customer{
			Name:  "Customer " + strconv.Itoa(k),
			Email: "customer" + strconv.Itoa(k) + "@example.com",
			City:  cities[k%len(cities)],
			Zip:   strconv.Itoa(10000 + k*7),
		},
		Items: []Item{
			{SKU: "SKU-" + strconv.Itoa(10000+k*3), Name: products[k%len(products)], Qty: q1, Price: p1},
			{SKU: "SKU-" + strconv.Itoa(20000+(k*11)%10000), Name: products[(k+1)%len(products)], Qty: q2, Price: p2},
		},
		Total:    math.Round((float64(q1)*p1+float64(q2)*p2)*100) / 100,
		Currency: currencies[k%len(currencies)],
		Paid:     k%2 == 0,
		Tags:     []string{"express", "gift"}[:1+k%2],
		Note:     "Leave at the door & ring <twice>",
	}
}

var (
	templatesOnce sync.Once
	templates     []Order
	templateJSON  [][]byte // each template encoded between its id and its created
)

func loadTemplates() {
	templatesOnce.Do(func() {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // as Node's JSON.stringify and the library write it
		for k := range OrderTemplates {
			t := template(k)
			templates = append(templates, t)
			buf.Reset()
			Check(enc.Encode(t))
			b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
			head, tail := []byte(`{"id":0`), []byte(`"created":0}`)
			if !bytes.HasPrefix(b, head) || !bytes.HasSuffix(b, tail) {
				Failf("order template %d encodes as %s", k, b)
			}
			templateJSON = append(templateJSON, bytes.Clone(b[len(head):len(b)-len(tail)]))
		}
	})
}

// MakeOrder returns order i. Its slices are shared with other orders: do
// not modify them.
func MakeOrder(i int) Order {
	loadTemplates()
	o := templates[i%OrderTemplates]
	o.ID = i
	o.Created = createdBase + int64(i)
	return o
}

// AppendOrderJSON appends order i encoded as JSON (what encoding/json
// writes with SetEscapeHTML(false)), without encoding it again.
func AppendOrderJSON(dst []byte, i int) []byte {
	loadTemplates()
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	dst = append(dst, templateJSON[i%OrderTemplates]...)
	dst = append(dst, `"created":`...)
	dst = strconv.AppendInt(dst, createdBase+int64(i), 10)
	return append(dst, '}')
}

// OrderSeq checks that orders arrive as 0, 1, 2, ... with nothing lost,
// duplicated or reordered, and that every field is the expected one.
type OrderSeq struct {
	Name string
	Next int
	Max  int
}

// Check checks one order decoded into an Order.
func (s *OrderSeq) Check(o *Order) error {
	if err := s.checkID(o.ID); err != nil {
		return err
	}
	if want := MakeOrder(o.ID); !sameOrder(o, &want) {
		return fmt.Errorf("%s: order %d: got %+v, want %+v", s.Name, o.ID, *o, want)
	}
	s.Next++
	return nil
}

func sameOrder(o, w *Order) bool {
	if o.ID != w.ID || o.Customer != w.Customer || o.Total != w.Total || o.Currency != w.Currency ||
		o.Paid != w.Paid || o.Note != w.Note || o.Created != w.Created ||
		len(o.Items) != len(w.Items) || len(o.Tags) != len(w.Tags) {
		return false
	}
	for j := range o.Items {
		if o.Items[j] != w.Items[j] {
			return false
		}
	}
	for j := range o.Tags {
		if o.Tags[j] != w.Tags[j] {
			return false
		}
	}
	return true
}

// CheckAny checks one order decoded into any (map[string]any, []any,
// float64, ...), field by field, as an application reads it.
func (s *OrderSeq) CheckAny(v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: message %d is a %T, not an object", s.Name, s.Next, v)
	}
	id, _ := m["id"].(float64)
	if err := s.checkID(int(id)); err != nil {
		return err
	}
	if w := MakeOrder(int(id)); !sameOrderAny(m, &w) {
		return fmt.Errorf("%s: order %d: got %v, want %+v", s.Name, int(id), m, w)
	}
	s.Next++
	return nil
}

func sameOrderAny(m map[string]any, w *Order) bool {
	c, _ := m["customer"].(map[string]any)
	items, _ := m["items"].([]any)
	tags, _ := m["tags"].([]any)
	if len(m) != 9 || len(c) != 4 || len(items) != len(w.Items) || len(tags) != len(w.Tags) ||
		m["id"] != float64(w.ID) || m["total"] != w.Total || m["currency"] != w.Currency ||
		m["paid"] != w.Paid || m["note"] != w.Note || m["created"] != float64(w.Created) ||
		c["name"] != w.Customer.Name || c["email"] != w.Customer.Email ||
		c["city"] != w.Customer.City || c["zip"] != w.Customer.Zip {
		return false
	}
	for j, it := range items {
		im, _ := it.(map[string]any)
		wi := w.Items[j]
		if len(im) != 4 || im["sku"] != wi.SKU || im["name"] != wi.Name || im["qty"] != float64(wi.Qty) || im["price"] != wi.Price {
			return false
		}
	}
	for j, t := range tags {
		if t != w.Tags[j] {
			return false
		}
	}
	return true
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
