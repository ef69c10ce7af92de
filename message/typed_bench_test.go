package message

import (
	"bytes"
	"encoding/json"
	"testing"
)

// benchOrder is the object of scripts/bench S4 (bench.Order there): numbers,
// strings, a nested object, an array of two objects, tags.
type benchOrder struct {
	ID       int              `json:"id"`
	Customer benchCustomer    `json:"customer"`
	Items    []benchOrderItem `json:"items"`
	Total    float64          `json:"total"`
	Currency string           `json:"currency"`
	Paid     bool             `json:"paid"`
	Tags     []string         `json:"tags"`
	Note     string           `json:"note"`
	Created  int64            `json:"created"`
}

type benchCustomer struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	City  string `json:"city"`
	Zip   string `json:"zip"`
}

type benchOrderItem struct {
	SKU   string  `json:"sku"`
	Name  string  `json:"name"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
}

const benchOrderJSON = `{"id":123456,"customer":{"name":"Customer 456","email":"customer456@example.com","city":"Zürich","zip":"13192"},"items":[{"sku":"SKU-11368","name":"Widget","qty":2,"price":79.72},{"sku":"SKU-25016","name":"Gadget","qty":1,"price":8.28}],"total":167.72,"currency":"EUR","paid":true,"tags":["express"],"note":"Leave at the door & ring <twice>","created":1767225723456}`

func benchOrderValue(b testing.TB) benchOrder {
	var o benchOrder
	if err := json.Unmarshal([]byte(benchOrderJSON), &o); err != nil {
		b.Fatal(err)
	}
	return o
}

// BenchmarkDecodeOrder decodes the S4 order into its struct and into any,
// with JSON.Unmarshal (the library's path) and with encoding/json.
func BenchmarkDecodeOrder(b *testing.B) {
	payload := []byte(benchOrderJSON)
	b.Run("struct", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			var o benchOrder
			if err := JSON.Unmarshal(payload, &o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("struct-encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			var o benchOrder
			if err := json.Unmarshal(payload, &o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("any", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			var v any
			if err := JSON.Unmarshal(payload, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("any-encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			var v any
			if err := json.Unmarshal(payload, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncodeOrder encodes the S4 order as a frame (AppendFrame, the
// library's path) and as encoding/json does with SetEscapeHTML(false).
func BenchmarkEncodeOrder(b *testing.B) {
	o := benchOrderValue(b)
	b.Run("struct", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			var err error
			if buf, err = AppendFrame(buf[:0], JSON, NulFraming, "order", o); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("struct-encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		for b.Loop() {
			buf.Reset()
			if err := enc.Encode(struct {
				Topic   string     `json:"topic"`
				Message benchOrder `json:"message"`
			}{"order", o}); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(buf.Len()))
	})
}
