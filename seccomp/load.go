package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Load reads the OCI LinuxSeccomp JSON document at path and validates it.
// It is strict where encoding/json is lenient: unknown fields, field names
// in the wrong case, values of the wrong type, null for a required value
// and trailing data are errors. Content errors wrap ErrInvalidProfile and
// read "FILE: FIELD: problem".
func Load(path string) (*specs.LinuxSeccomp, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading seccomp profile: %w", err)
	}
	s, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// parse decodes and validates one profile document.
func parse(data []byte) (*specs.LinuxSeccomp, error) {
	tree, err := decodeTree(data)
	if err != nil {
		return nil, err
	}
	if err := checkTree("", tree, reflect.TypeFor[specs.LinuxSeccomp]()); err != nil {
		return nil, err
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(data, &s); err != nil {
		// checkTree accepts only what Unmarshal decodes exactly.
		return nil, invalid("", err)
	}
	if _, err := newPlan(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

// decodeTree decodes one JSON value, keeping numbers exact.
func decodeTree(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err == io.EOF {
		return nil, invalid("", errors.New("empty document"))
	} else if err != nil {
		return nil, invalid("", syntaxProblem(data, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("", errors.New("data after the JSON document"))
	}
	return tree, nil
}

// syntaxProblem adds the line and column of the offending byte (the last
// one read, at Offset-1) to a JSON syntax error.
func syntaxProblem(data []byte, err error) error {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return err
	}
	before := data[:min(int(se.Offset), len(data))]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - 1 - bytes.LastIndexByte(before, '\n')
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// checkTree checks that the decoded JSON value v fits Go type t exactly, so
// that json.Unmarshal neither drops nor coerces anything. path names v.
func checkTree(path string, v any, t reflect.Type) error {
	if v == nil {
		if t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			return nil
		}
		return invalid(path, fmt.Errorf("null, want %s", kindName(t)))
	}
	switch t.Kind() {
	case reflect.Pointer:
		return checkTree(path, v, t.Elem())
	case reflect.Struct:
		return checkObject(path, v, t)
	case reflect.Slice:
		return checkArray(path, v, t)
	case reflect.String:
		if _, ok := v.(string); !ok {
			return invalid(path, fmt.Errorf("%s, want a string", jsonKind(v)))
		}
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return checkUint(path, v, t.Bits())
	}
	return invalid(path, fmt.Errorf("unsupported Go type %s", t))
}

func checkObject(path string, v any, t reflect.Type) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return invalid(path, fmt.Errorf("%s, want an object", jsonKind(v)))
	}
	fields := jsonFields(t)
	for key, val := range obj {
		sub := joinField(path, key)
		ft, ok := fields[key]
		if !ok {
			return invalid(sub, errors.New("unknown field"))
		}
		if err := checkTree(sub, val, ft); err != nil {
			return err
		}
	}
	return nil
}

func checkArray(path string, v any, t reflect.Type) error {
	arr, ok := v.([]any)
	if !ok {
		return invalid(path, fmt.Errorf("%s, want an array", jsonKind(v)))
	}
	for i, el := range arr {
		if err := checkTree(fmt.Sprintf("%s[%d]", path, i), el, t.Elem()); err != nil {
			return err
		}
	}
	return nil
}

func checkUint(path string, v any, bits int) error {
	n, ok := v.(json.Number)
	if !ok {
		return invalid(path, fmt.Errorf("%s, want a number", jsonKind(v)))
	}
	if _, err := strconv.ParseUint(n.String(), 10, bits); err != nil {
		return invalid(path, fmt.Errorf("%s is not an unsigned %d-bit integer", n, bits))
	}
	return nil
}

// jsonFields maps the exact JSON names of t's fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}

func joinField(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonKind names the kind of a decoded JSON value for error messages.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}

// kindName names what a Go type expects, for the null case.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Struct:
		return "an object"
	}
	return "a number"
}
