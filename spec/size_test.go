package spec

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1048576", 1048576},
		{"512", 512},
		{"512B", 512},
		{"512k", 512 << 10},
		{"512K", 512 << 10},
		{"512Ki", 512 << 10},
		{"1kB", 1000},
		{"256MiB", 256 << 20},
		{"256m", 256 << 20},
		{"100MB", 100_000_000},
		{"100mb", 100_000_000},
		{"2GiB", 2 << 30},
		{"2 GiB", 2 << 30},
		{"1.5GiB", 1610612736},
		{"0.5k", 512},
		{".5KiB", 512},
		{"1.5B", 1},
		{"1TB", 1e12},
		{"1TiB", 1 << 40},
		{"8PiB", 8 << 50},
		{"7.99PiB", 8995940255672565}, // 7.99 × 2^50, fraction dropped,
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseSizeErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `cannot parse size ""`},
		{"2XB", `cannot parse size "2XB"`},
		{"GiB", `cannot parse size "GiB"`},
		{"1.", `cannot parse size "1."`},
		{"1.2.3", `cannot parse size "1.2.3"`},
		{" 1", `cannot parse size " 1"`},
		{"1e3", `cannot parse size "1e3"`},
		{"0x10", `cannot parse size "0x10"`},
		{"+1", `cannot parse size "+1"`},
		{"-1", `cannot parse size "-1": must not be negative`},
		{"-1.5GiB", `cannot parse size "-1.5GiB": must not be negative`},
		{"8EiB", `cannot parse size "8EiB"`},
		{"8192PiB", `cannot parse size "8192PiB": out of range`},
		{"99999999999999999999", `cannot parse size "99999999999999999999": out of range`},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v, want error %q", tt.in, got, err, tt.want)
		}
	}
}

func TestSizeJSON(t *testing.T) {
	tests := []struct {
		in   string
		want Size
	}{
		{`"1GiB"`, 1 << 30},
		{`4096`, 4096},
		{`"4096"`, 4096},
	}
	for _, tt := range tests {
		var got Size
		if err := json.Unmarshal([]byte(tt.in), &got); err != nil || got != tt.want {
			t.Errorf("Size.UnmarshalJSON(%s) = %d, %v, want %d", tt.in, got, err, tt.want)
		}
		out, err := json.Marshal(got)
		var back Size
		if err != nil || json.Unmarshal(out, &back) != nil || back != got {
			t.Errorf("Size round trip of %d = %s, %d, want %d", got, out, back, got)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{`"10m"`, 10 * time.Minute},
		{`"1h30m"`, 90 * time.Minute},
		{`"0"`, 0},
		{`"250ms"`, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		var got Duration
		if err := json.Unmarshal([]byte(tt.in), &got); err != nil || time.Duration(got) != tt.want {
			t.Errorf("Duration.UnmarshalJSON(%s) = %v, %v, want %v", tt.in, time.Duration(got), err, tt.want)
		}
		out, err := json.Marshal(got)
		var back Duration
		if err != nil || json.Unmarshal(out, &back) != nil || back != got {
			t.Errorf("Duration round trip of %v = %s, %v, want %v", got, out, back, got)
		}
	}
}
