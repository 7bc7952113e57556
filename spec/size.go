package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Size is a number of bytes. In JSON it is a string with an optional unit
// (see ParseSize) or a number of bytes; zero means "not set", so a spec
// cannot write a size of 0.
type Size int64

// sizeUnits are the multipliers ParseSize knows, by lower-case unit. A
// one-letter unit is binary, like tmpfs's size=65536k and docker's 512m.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "ki": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mi": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gi": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "ti": 1 << 40, "tib": 1 << 40, "tb": 1e12,
	"p": 1 << 50, "pi": 1 << 50, "pib": 1 << 50, "pb": 1e15,
}

// sizeSyntax is compiled on first use: not at every start of sbx.
var sizeSyntax = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(-?)([0-9]+(?:\.[0-9]+)?|\.[0-9]+) ?([A-Za-z]*)$`)
})

// ParseSize parses a byte count: a decimal number, possibly with a
// fraction, and an optional unit, case-insensitive. "B", "" are bytes;
// "k", "Ki", "KiB" are 1024 (and so on for m, g, t, p); "kB", "MB", "GB",
// "TB", "PB" are powers of 1000. "1.5GiB" is 1610612736; fractions of a
// byte are dropped. Negative sizes and sizes beyond int64 are errors.
func ParseSize(s string) (int64, error) {
	m := sizeSyntax().FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("cannot parse size %q", s)
	}
	mult, ok := sizeUnits[strings.ToLower(m[3])]
	if !ok {
		return 0, fmt.Errorf("cannot parse size %q", s)
	}
	if m[1] == "-" {
		return 0, fmt.Errorf("cannot parse size %q: must not be negative", s)
	}
	r, ok := new(big.Rat).SetString(m[2])
	if !ok {
		return 0, fmt.Errorf("cannot parse size %q", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() {
		return 0, fmt.Errorf("cannot parse size %q: out of range", s)
	}
	return n.Int64(), nil
}

// UnmarshalJSON decodes a size string or a number of bytes; 0 is refused,
// since zero means "not set".
func (z *Size) UnmarshalJSON(raw []byte) error {
	var text string
	switch kind := kindOf(raw); kind {
	case "string":
		if err := json.Unmarshal(raw, &text); err != nil {
			return err
		}
	case "number":
		text = strings.TrimSpace(string(raw))
	default:
		return fmt.Errorf("expected a string or a number, got %s", kind)
	}
	n, err := ParseSize(text)
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("must be positive")
	}
	*z = Size(n)
	return nil
}

// MarshalJSON encodes the size as a number of bytes.
func (z Size) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatInt(int64(z), 10)), nil
}

// Duration is a time.Duration written in JSON as a time.ParseDuration
// string, like "10m" or "1h30m"; zero means "not set".
type Duration time.Duration

// UnmarshalJSON decodes a duration string; negative durations are refused.
func (t *Duration) UnmarshalJSON(raw []byte) error {
	if kind := kindOf(raw); kind != "string" {
		return fmt.Errorf("expected a string, got %s", kind)
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return err
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return fmt.Errorf("cannot parse duration %q", text)
	}
	if d < 0 {
		return errors.New("must not be negative")
	}
	*t = Duration(d)
	return nil
}

// MarshalJSON encodes the duration as a time.ParseDuration string.
func (t Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(t).String())
}
