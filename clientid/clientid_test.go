package clientid

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestNewIsValid(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := New()
		if !Valid(id) {
			t.Fatalf("Valid(%q) = false for New's output", id)
		}
		if seen[id] {
			t.Fatalf("New repeated %q", id)
		}
		seen[id] = true
		if len(id) != 36 || strings.ToLower(id) != id || id[14] != '4' {
			t.Fatalf("%q is not canonical lower-case v4 text", id)
		}
	}
}

func TestValidRejects(t *testing.T) {
	good := "f47ac10b-58cc-4372-a567-0e02b2c3d479"
	if !Valid(good) {
		t.Fatalf("Valid(%q) = false", good)
	}
	for _, id := range []string{
		"",
		"F47AC10B-58CC-4372-A567-0E02B2C3D479", // upper case
		"f47ac10b-58cc-4372-a567-0E02b2c3d479", // one upper-case digit
		"6ba7b810-9dad-11d1-80b4-00c04fd430c8", // version 1
		"6ba7b810-9dad-31d1-80b4-00c04fd430c8", // version 3
		"6ba7b810-9dad-51d1-80b4-00c04fd430c8", // version 5
		"f47ac10b-58cc-4372-c567-0e02b2c3d479", // variant not RFC 4122
		"00000000-0000-0000-0000-000000000000", // nil UUID
		"{f47ac10b-58cc-4372-a567-0e02b2c3d479}",
		"urn:uuid:f47ac10b-58cc-4372-a567-0e02b2c3d479",
		"f47ac10b58cc4372a5670e02b2c3d479", // no hyphens
		"f47ac10b-58cc-4372-a567-0e02b2c3d47",
		"f47ac10b-58cc-4372-a567-0e02b2c3d4799",
		"f47ac10b-58cc-4372-a567_0e02b2c3d479",
		"g47ac10b-58cc-4372-a567-0e02b2c3d479",
		" f47ac10b-58cc-4372-a567-0e02b2c3d47",
		"f47ac10b-58cc-4372-a567-0e02b2c3d479\n",
		"not a uuid at all, just 36 chars....",
		"12345",
	} {
		if Valid(id) {
			t.Errorf("Valid(%q) = true", id)
		}
	}
}

func TestValidMatchesUUIDPackage(t *testing.T) {
	for range 100 {
		u := uuid.New()
		if !Valid(u.String()) {
			t.Fatalf("Valid(%q) = false", u)
		}
	}
}
