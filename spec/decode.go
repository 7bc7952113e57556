package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoder decodes JSON into Go values more strictly than encoding/json: keys
// match json tags exactly (not case-insensitively), unknown and duplicated
// keys are errors, and a JSON type that does not fit the field is an error
// naming the field. Types implementing json.Unmarshaler decode themselves;
// their error text becomes the problem.
type decoder struct {
	file string // names the document in errors
}

// document decodes the JSON document data into *v.
func (d *decoder) document(data []byte, v any) error {
	if err := d.syntax(data); err != nil {
		return err
	}
	return d.value("", data, reflect.ValueOf(v).Elem())
}

func (d *decoder) fail(field, format string, args ...any) error {
	return &Error{File: d.file, Field: field, Problem: fmt.Sprintf(format, args...)}
}

// syntax checks that data is one well-formed JSON value, and reports the
// line and column of the first error.
func (d *decoder) syntax(data []byte) error {
	var raw json.RawMessage
	err := json.Unmarshal(data, &raw)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(data, se)
		return d.fail(fmt.Sprintf("line %d, column %d", line, col), "%s", se)
	}
	if err != nil {
		return d.fail("", "%s", err)
	}
	return nil
}

// position turns the offset of a syntax error into a 1-based line and
// column (in bytes). The offset counts the byte that failed, so that byte
// is at offset-1; at the end of input there is no such byte.
func position(data []byte, se *json.SyntaxError) (line, col int) {
	at := int(se.Offset) - 1
	if strings.Contains(se.Error(), "end of JSON input") {
		at = len(data)
	}
	at = max(0, min(at, len(data)))
	line = 1 + bytes.Count(data[:at], []byte{'\n'})
	col = at - bytes.LastIndexByte(data[:at], '\n')
	return line, col
}

// value decodes raw into v, which must be addressable.
func (d *decoder) value(field string, raw []byte, v reflect.Value) error {
	raw = bytes.TrimSpace(raw)
	if u, ok := v.Addr().Interface().(json.Unmarshaler); ok {
		if err := u.UnmarshalJSON(raw); err != nil {
			return d.fail(field, "%s", err)
		}
		return nil
	}
	if kindOf(raw) == "null" && nullable(v.Kind()) {
		v.SetZero()
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return d.value(field, raw, v.Elem())
	case reflect.Struct:
		return d.object(field, raw, v)
	case reflect.Slice:
		return d.array(field, raw, v)
	}
	return d.scalar(field, raw, v)
}

func nullable(k reflect.Kind) bool {
	return k == reflect.Pointer || k == reflect.Slice || k == reflect.Map
}

// scalar decodes a string, boolean or number.
func (d *decoder) scalar(field string, raw []byte, v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		return d.str(field, raw, v)
	case reflect.Bool:
		return d.boolean(field, raw, v)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return d.integer(field, raw, v)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return d.unsigned(field, raw, v)
	case reflect.Float32, reflect.Float64:
		return d.float(field, raw, v)
	}
	return d.fail(field, "cannot decode into a Go %s", v.Type())
}

// object decodes a JSON object into the struct v, key by key.
func (d *decoder) object(field string, raw []byte, v reflect.Value) error {
	if err := d.want(field, raw, "object"); err != nil {
		return err
	}
	fields := fieldsOf(v.Type())
	seen := make(map[string]bool)
	return d.walk(field, raw, func(key string, val []byte) error {
		sub := join(field, key)
		if seen[key] {
			return d.fail(sub, "duplicate field")
		}
		seen[key] = true
		index, ok := fields.index[key]
		if !ok {
			return d.fail(sub, "unknown field%s", hint(key, fields.names))
		}
		return d.value(sub, val, v.Field(index))
	})
}

// array decodes a JSON array into the slice v, replacing its contents.
func (d *decoder) array(field string, raw []byte, v reflect.Value) error {
	if err := d.want(field, raw, "array"); err != nil {
		return err
	}
	out := reflect.MakeSlice(v.Type(), 0, 0)
	i := 0
	err := d.walk(field, raw, func(_ string, val []byte) error {
		elem := reflect.New(v.Type().Elem()).Elem()
		if err := d.value(fmt.Sprintf("%s[%d]", field, i), val, elem); err != nil {
			return err
		}
		out = reflect.Append(out, elem)
		i++
		return nil
	})
	if err != nil {
		return err
	}
	v.Set(out)
	return nil
}

// walk calls fn with each member of the object or element of the array
// raw, in order; for an array the key is "".
func (d *decoder) walk(field string, raw []byte, fn func(key string, val []byte) error) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	open, err := dec.Token()
	if err != nil {
		return d.fail(field, "%s", err)
	}
	for dec.More() {
		var key string
		if open == json.Delim('{') {
			tok, err := dec.Token()
			if err != nil {
				return d.fail(field, "%s", err)
			}
			key, _ = tok.(string)
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return d.fail(field, "%s", err)
		}
		if err := fn(key, val); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) str(field string, raw []byte, v reflect.Value) error {
	if err := d.want(field, raw, "string"); err != nil {
		return err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return d.fail(field, "%s", err)
	}
	v.SetString(s)
	return nil
}

func (d *decoder) boolean(field string, raw []byte, v reflect.Value) error {
	if err := d.want(field, raw, "boolean"); err != nil {
		return err
	}
	v.SetBool(string(raw) == "true")
	return nil
}

func (d *decoder) integer(field string, raw []byte, v reflect.Value) error {
	if err := d.want(field, raw, "number"); err != nil {
		return err
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if errors.Is(err, strconv.ErrSyntax) {
		return d.fail(field, "expected an integer, got %s", raw)
	}
	if err != nil || v.OverflowInt(n) {
		return d.fail(field, "%s is out of range", raw)
	}
	v.SetInt(n)
	return nil
}

func (d *decoder) unsigned(field string, raw []byte, v reflect.Value) error {
	if err := d.want(field, raw, "number"); err != nil {
		return err
	}
	if raw[0] == '-' {
		return d.fail(field, "must not be negative")
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	if errors.Is(err, strconv.ErrSyntax) {
		return d.fail(field, "expected an integer, got %s", raw)
	}
	if err != nil || v.OverflowUint(n) {
		return d.fail(field, "%s is out of range", raw)
	}
	v.SetUint(n)
	return nil
}

func (d *decoder) float(field string, raw []byte, v reflect.Value) error {
	if err := d.want(field, raw, "number"); err != nil {
		return err
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || v.OverflowFloat(f) {
		return d.fail(field, "%s is out of range", raw)
	}
	v.SetFloat(f)
	return nil
}

// want fails unless raw is a JSON value of the kind want.
func (d *decoder) want(field string, raw []byte, want string) error {
	if got := kindOf(raw); got != want {
		return d.fail(field, "expected %s, got %s", article(want), got)
	}
	return nil
}

// kindOf names the JSON type of the value raw: "object", "array",
// "string", "number", "boolean" or "null".
func kindOf(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func article(kind string) string {
	if strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}

// structFields are the JSON names of a struct's fields.
type structFields struct {
	names []string       // in declaration order
	index map[string]int // name → field index
}

func fieldsOf(t reflect.Type) structFields {
	fs := structFields{index: make(map[string]int)}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs.names = append(fs.names, name)
		fs.index[name] = i
	}
	return fs
}

// join appends key to the field path parent: "mounts[0]" + "source" is
// "mounts[0].source". A key that is not a plain identifier is quoted, so
// the path stays on one line: `mounts[0]["a b"]`.
func join(parent, key string) string {
	if len(key) > maxKeyShown {
		// A line, not a megabyte of it: the start names it well enough.
		return parent + "[" + strconv.Quote(shorten(key)+"…") + "]"
	}
	if !plain(key) {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// maxKeyShown is the longest key an error message repeats whole.
const maxKeyShown = 64

// shorten is key's first maxKeyShown bytes, cut at a rune's start.
func shorten(key string) string {
	n := maxKeyShown
	for n > 0 && !utf8.RuneStart(key[n]) {
		n--
	}
	return key[:n]
}

func plain(key string) bool {
	if key == "" {
		return false
	}
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// hint is `; did you mean "x"?` for the known name x closest to name when
// it is close (an edit distance of at most a third of x, at least 1), and
// "" otherwise.
func hint(name string, known []string) string {
	best, bestDist := "", -1
	for _, k := range known {
		if abs(len(name)-len(k)) > len(k) {
			continue // far apart; and spares distance() a huge name
		}
		d := distance(strings.ToLower(name), strings.ToLower(k))
		if bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	if bestDist < 0 || bestDist > max(1, len(best)/3) {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// distance is the Levenshtein edit distance between a and b, in runes.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
