package wire_test

// Golden vectors: schemas/testdata holds, for each case, the exact bytes
// wire.Marshal produces (<name>.msgpack) and a language-neutral description
// of the decoded value (<name>.json). These tests keep the Go types, the
// vectors and the documents of schemas/ in agreement. Regenerate the vectors
// with `go run ./wire/internal/gengolden -write` (from the pkg module).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/vmihailenco/msgpack/v5"
)

const schemasDir = "../../schemas"

var testdataDir = filepath.Join(schemasDir, "testdata")

// messageTypes maps the "message" of a golden case (and the $defs names of
// messages.schema.json) to its Go type.
var messageTypes = map[string]reflect.Type{
	"AppendRequest":       reflect.TypeFor[wire.AppendRequest](),
	"AppendReply":         reflect.TypeFor[wire.AppendReply](),
	"EventData":           reflect.TypeFor[wire.EventData](),
	"RecordedEvent":       reflect.TypeFor[wire.RecordedEvent](),
	"ReadRequest":         reflect.TypeFor[wire.ReadRequest](),
	"ReadReply":           reflect.TypeFor[wire.ReadReply](),
	"Filter":              reflect.TypeFor[wire.Filter](),
	"ReadAllRequest":      reflect.TypeFor[wire.ReadAllRequest](),
	"ReadAllReply":        reflect.TypeFor[wire.ReadAllReply](),
	"ListStreamsRequest":  reflect.TypeFor[wire.ListStreamsRequest](),
	"ListStreamsReply":    reflect.TypeFor[wire.ListStreamsReply](),
	"StreamInfoRequest":   reflect.TypeFor[wire.StreamInfoRequest](),
	"StreamInfo":          reflect.TypeFor[wire.StreamInfo](),
	"DeleteStreamRequest": reflect.TypeFor[wire.DeleteStreamRequest](),
	"DeleteStreamReply":   reflect.TypeFor[wire.DeleteStreamReply](),
	"ErrorReply":          reflect.TypeFor[wire.ErrorReply](),
	// Store lifecycle.
	"StoreSettings":      reflect.TypeFor[wire.StoreSettings](),
	"StoreConfig":        reflect.TypeFor[wire.StoreConfig](),
	"StoreStatus":        reflect.TypeFor[wire.StoreStatus](),
	"CreateStoreRequest": reflect.TypeFor[wire.CreateStoreRequest](),
	"CreateStoreReply":   reflect.TypeFor[wire.CreateStoreReply](),
	"StoreRequest":       reflect.TypeFor[wire.StoreRequest](),
	"RemoveStoreReply":   reflect.TypeFor[wire.RemoveStoreReply](),
	"ListStoresRequest":  reflect.TypeFor[wire.ListStoresRequest](),
	"ListStoresReply":    reflect.TypeFor[wire.ListStoresReply](),
	"StoreEvent":         reflect.TypeFor[wire.StoreEvent](),
	"StoreUsage":         reflect.TypeFor[wire.StoreUsage](),
	"SetQuotaRequest":    reflect.TypeFor[wire.SetQuotaRequest](),
}

// nestedOnly are the types that never travel alone, so need no golden case.
var nestedOnly = map[string]bool{"EventData": true, "Filter": true, "StoreSettings": true, "StoreUsage": true}

// isOperation reports whether op names an operation: one of store.<store>.<op>
// (append, read...) or a lifecycle operation written as its subject
// (stores.create...).
func isOperation(op string) bool {
	if sop, ok := subjects.ParseStores(op); ok {
		return slices.Contains(subjects.StoresOps, sop)
	}
	_, ok := wire.StoreOps[op]
	return ok
}

// decodeRequest validates a request payload the way the gateway does: op is
// an operation of store.<store>.<op>, or a stores.<op> subject.
func decodeRequest(op string, data []byte, l wire.Limits) error {
	if sop, ok := subjects.ParseStores(op); ok {
		return wire.DecodeStoresRequest(sop, data, l)
	}
	return wire.DecodeRequest(op, data, l)
}

// binFields are the keys whose values are MessagePack bin (base64 in JSON).
// TestSchemaMatchesGoTypes checks that the schema and the Go types agree.
var binFields = map[string]bool{"data": true, "metadata": true}

type goldenCase struct {
	Message     string          `json:"message"`
	Operation   string          `json:"operation"`
	Kind        string          `json:"kind"`
	Description string          `json:"description"`
	Value       json.RawMessage `json:"value"`
}

func readGolden(t *testing.T) map[string]goldenCase {
	t.Helper()
	entries, err := os.ReadDir(testdataDir)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]goldenCase{}
	msgpackFiles := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir() || !strings.HasSuffix(name, ".json") && !strings.HasSuffix(name, ".msgpack"):
			continue
		case strings.HasSuffix(name, ".msgpack"):
			msgpackFiles[strings.TrimSuffix(name, ".msgpack")] = true
			continue
		}
		b, err := os.ReadFile(filepath.Join(testdataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		var c goldenCase
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cases[strings.TrimSuffix(name, ".json")] = c
	}
	for name := range msgpackFiles {
		if _, ok := cases[name]; !ok {
			t.Errorf("%s.msgpack has no %s.json", name, name)
		}
	}
	for name := range cases {
		if !msgpackFiles[name] {
			t.Errorf("%s.json has no %s.msgpack", name, name)
		}
	}
	if len(cases) == 0 {
		t.Fatal("no golden cases in " + testdataDir)
	}
	return cases
}

func TestGoldenVectors(t *testing.T) {
	cases := readGolden(t)
	covered := map[string]bool{}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			typ, ok := messageTypes[c.Message]
			if !ok {
				t.Fatalf("unknown message %q", c.Message)
			}
			covered[c.Message] = true
			if c.Operation != "" && !isOperation(c.Operation) {
				t.Errorf("unknown operation %q", c.Operation)
			}
			if !slices.Contains([]string{"request", "reply", "part", "error", "event"}, c.Kind) {
				t.Errorf("unknown kind %q", c.Kind)
			}
			if c.Description == "" {
				t.Error("no description")
			}
			data, err := os.ReadFile(filepath.Join(testdataDir, name+".msgpack"))
			if err != nil {
				t.Fatal(err)
			}

			// The Go value the JSON describes, decoded with encoding/json
			// (which reads base64 into []byte natively).
			want := reflect.New(typ)
			if err := decodeJSONValue(c.Value, want.Interface()); err != nil {
				t.Fatalf("json value: %v", err)
			}

			// (a) Marshal of the Go value gives exactly the golden bytes...
			got, err := wire.Marshal(want.Elem().Interface())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("wire.Marshal = %x\n           want %x", got, data)
			}
			// ...and Unmarshal of the golden bytes gives the Go value back.
			dec := reflect.New(typ)
			if err := wire.Unmarshal(data, dec.Interface()); err != nil {
				t.Fatalf("wire.Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(dec.Interface(), want.Interface()) {
				t.Errorf("wire.Unmarshal = %+v\n            want %+v", dec.Elem().Interface(), want.Elem().Interface())
			}
			if again, _ := wire.Marshal(dec.Elem().Interface()); !bytes.Equal(again, data) {
				t.Errorf("decode then encode is not the identity: %x", again)
			}

			// (b) The JSON, packed the way a client in any language would
			// (keys in file order, smallest integers, data/metadata as bin),
			// gives the same bytes.
			packed, err := packJSON(c.Value)
			if err != nil {
				t.Fatalf("pack json: %v", err)
			}
			if !bytes.Equal(packed, data) {
				t.Errorf("json packed = %x\n       want %x", packed, data)
			}

			// A golden request is a valid request.
			if c.Kind == "request" {
				if err := decodeRequest(c.Operation, data, wire.DefaultLimits()); err != nil {
					t.Errorf("decode request (%s): %v", c.Operation, err)
				}
			}
		})
	}
	for m := range messageTypes {
		if !covered[m] && !nestedOnly[m] {
			t.Errorf("message %s has no golden case", m)
		}
	}
}

// decodeJSONValue decodes a golden JSON value into a wire struct with
// encoding/json. The wire structs have msgpack tags only; encoding/json
// matches keys to field names case-insensitively, so it suffices to drop the
// underscores of the snake_case keys (expected_state → expectedstate, which
// matches ExpectedState).
func decodeJSONValue(raw json.RawMessage, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var generic any
	if err := d.Decode(&generic); err != nil {
		return err
	}
	var strip func(any) any
	strip = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			m := make(map[string]any, len(x))
			for k, v := range x {
				m[strings.ReplaceAll(k, "_", "")] = strip(v)
			}
			return m
		case []any:
			for i := range x {
				x[i] = strip(x[i])
			}
		}
		return x
	}
	b, err := json.Marshal(strip(generic))
	if err != nil {
		return err
	}
	d = json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// ---- an order-preserving JSON reader, and a packer for it ----------------

type jsonKind int

const (
	jNull jsonKind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

type jsonValue struct {
	kind  jsonKind
	b     bool
	num   json.Number
	s     string
	keys  []string    // jObject, in file order
	elems []jsonValue // jArray elements, or jObject values
}

func parseOrdered(raw []byte) (jsonValue, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	v, err := parseValue(d)
	if err != nil {
		return v, err
	}
	if _, err := d.Token(); err != io.EOF {
		return v, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func parseValue(d *json.Decoder) (jsonValue, error) {
	tok, err := d.Token()
	if err != nil {
		return jsonValue{}, err
	}
	switch tok := tok.(type) {
	case nil:
		return jsonValue{kind: jNull}, nil
	case bool:
		return jsonValue{kind: jBool, b: tok}, nil
	case json.Number:
		return jsonValue{kind: jNumber, num: tok}, nil
	case string:
		return jsonValue{kind: jString, s: tok}, nil
	case json.Delim:
		v := jsonValue{kind: jArray}
		if tok == '{' {
			v.kind = jObject
		}
		for d.More() {
			if v.kind == jObject {
				k, err := d.Token()
				if err != nil {
					return v, err
				}
				v.keys = append(v.keys, k.(string))
			}
			e, err := parseValue(d)
			if err != nil {
				return v, err
			}
			v.elems = append(v.elems, e)
		}
		_, err := d.Token() // the closing delimiter
		return v, err
	}
	return jsonValue{}, fmt.Errorf("unexpected token %v", tok)
}

// packJSON encodes a golden JSON value as MessagePack without knowing the Go
// types: what a client in another language would do with it.
func packJSON(raw []byte) ([]byte, error) {
	v, err := parseOrdered(raw)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	err = packValue(e, v, false)
	return buf.Bytes(), err
}

func packValue(e *msgpack.Encoder, v jsonValue, bin bool) error {
	switch v.kind {
	case jNull:
		return e.EncodeNil()
	case jBool:
		return e.EncodeBool(v.b)
	case jNumber:
		s := v.num.String()
		if strings.HasPrefix(s, "-") {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return err
			}
			return e.EncodeInt(n) // the smallest form
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return err
		}
		return e.EncodeUint(n) // the smallest form
	case jString:
		if bin {
			b, err := base64.StdEncoding.DecodeString(v.s)
			if err != nil {
				return err
			}
			return e.EncodeBytes(b)
		}
		return e.EncodeString(v.s)
	case jArray:
		if err := e.EncodeArrayLen(len(v.elems)); err != nil {
			return err
		}
		for _, x := range v.elems {
			if err := packValue(e, x, false); err != nil {
				return err
			}
		}
		return nil
	case jObject:
		if err := e.EncodeMapLen(len(v.keys)); err != nil {
			return err
		}
		for i, k := range v.keys {
			if err := e.EncodeString(k); err != nil {
				return err
			}
			if err := packValue(e, v.elems[i], binFields[k]); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("bad json kind %d", v.kind)
}

// ---- invalid payloads -----------------------------------------------------

type invalidCase struct {
	Operation   string          `json:"operation"`
	Code        string          `json:"code"`
	CodeNumber  int             `json:"code_number"`
	Description string          `json:"description"`
	Limits      json.RawMessage `json:"limits"`
}

func readInvalid(t testing.TB) map[string]invalidCase {
	t.Helper()
	dir := filepath.Join(testdataDir, "invalid")
	b, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]invalidCase
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&cases); err != nil {
		t.Fatalf("cases.json: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := cases[e.Name()]; !ok && e.Name() != "cases.json" {
			t.Errorf("invalid/%s is not in cases.json", e.Name())
		}
	}
	return cases
}

// limitsOf returns the default limits with a case's overrides applied.
func limitsOf(raw json.RawMessage) (wire.Limits, error) {
	l := wire.DefaultLimits()
	if len(raw) == 0 {
		return l, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	err := d.Decode(&l)
	return l, err
}

func TestInvalidVectors(t *testing.T) {
	cases := readInvalid(t)
	if len(cases) == 0 {
		t.Fatal("no invalid cases")
	}
	for file, c := range cases {
		t.Run(strings.TrimSuffix(file, ".msgpack"), func(t *testing.T) {
			want, ok := codes.FromName(c.Code)
			if !ok {
				t.Fatalf("cases.json names unknown code %q", c.Code)
			}
			if int(want) != c.CodeNumber {
				t.Errorf("code_number %d, but %s is %d", c.CodeNumber, c.Code, int(want))
			}
			if c.Description == "" {
				t.Error("no description")
			}
			l, err := limitsOf(c.Limits)
			if err != nil {
				t.Fatalf("limits: %v", err)
			}
			data, err := os.ReadFile(filepath.Join(testdataDir, "invalid", file))
			if err != nil {
				t.Fatal(err)
			}
			err = decodeRequest(c.Operation, data, l)
			if err == nil {
				t.Fatalf("decode request (%s) accepted the payload", c.Operation)
			}
			var ce *codes.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *codes.Error", err, err)
			}
			if ce.Code != want {
				t.Errorf("decode request (%s) = %v, want code %s", c.Operation, err, c.Code)
			}
		})
	}
}

// ---- codes, operations and schema are documented --------------------------

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(schemasDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCodesAreDocumented(t *testing.T) {
	doc := readDoc(t, "errors.md")
	byName := map[string]codes.Code{}
	byNumber := map[codes.Code]string{}
	all := codes.All()
	if len(all) == 0 {
		t.Fatal("codes.All() is empty")
	}
	// Each code has one row in the table of errors.md:
	// | number | `name` | retryable | meaning |
	rows := map[string][]string{}
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) >= 3 {
			rows[cells[0]] = cells
		}
	}
	for _, c := range all {
		name := c.Name()
		if name == "" || name == fmt.Sprintf("unknown_%d", int(c)) {
			t.Errorf("code %d has no name", int(c))
		}
		if other, dup := byName[name]; dup {
			t.Errorf("codes %d and %d are both named %s", int(c), int(other), name)
		}
		byName[name] = c
		if other, dup := byNumber[c]; dup {
			t.Errorf("code %d is listed twice (%s, %s)", int(c), name, other)
		}
		byNumber[c] = name
		if got, ok := codes.FromName(name); !ok || got != c {
			t.Errorf("FromName(%q) = %d, %v", name, int(got), ok)
		}
		if int(c)/100 < 400 || int(c)/100 > 599 {
			t.Errorf("code %d (%s) is not in an HTTP-like class", int(c), name)
		}
		row, ok := rows[strconv.Itoa(int(c))]
		if !ok {
			t.Errorf("errors.md has no table row for %d (%s)", int(c), name)
			continue
		}
		if row[1] != "`"+name+"`" {
			t.Errorf("errors.md row %d names %s, want `%s`", int(c), row[1], name)
		}
		retry := "no"
		if c.Retryable() {
			retry = "yes"
		}
		if !strings.HasPrefix(strings.ToLower(row[2]), retry) {
			t.Errorf("errors.md row %d says retryable %q, want %q", int(c), row[2], retry)
		}
	}
	// And no row documents a code that does not exist.
	for num, row := range rows {
		n, err := strconv.Atoi(num)
		if err != nil {
			continue // a header or another table
		}
		if _, ok := byNumber[codes.Code(n)]; !ok {
			t.Errorf("errors.md documents code %d (%s), which pkg/codes does not define", n, row[1])
		}
	}
}

func TestOperationsAreDocumented(t *testing.T) {
	ops := readDoc(t, "operations.md")
	readme := readDoc(t, "README.md")
	for _, op := range wire.StoreOpNames() {
		subject := subjects.Store("<store>", op)
		if !strings.Contains(ops, "## `"+op+"`") {
			t.Errorf("operations.md has no section ## `%s`", op)
		}
		if !strings.Contains(ops, "`"+subject+"`") {
			t.Errorf("operations.md does not give the subject `%s`", subject)
		}
		if !strings.Contains(readme, "`"+op+"`") {
			t.Errorf("README.md does not list operation `%s`", op)
		}
	}
	for _, op := range subjects.StoresOps {
		subject := subjects.Stores(op)
		if !strings.Contains(ops, "## `"+subject+"`") {
			t.Errorf("operations.md has no section ## `%s`", subject)
		}
		if !strings.Contains(readme, "`"+subject+"`") {
			t.Errorf("README.md does not list operation `%s`", subject)
		}
	}
	// Lifecycle events: the subject, every kind and every status.
	for _, s := range []string{subjects.StoreEvent("<store>", "<kind>"),
		wire.EventCreated, wire.EventStatusChanged, wire.EventRemoved,
		wire.StatusCreating, wire.StatusRunning, wire.StatusDegraded, wire.StatusRemoving} {
		if !strings.Contains(ops, "`"+s+"`") {
			t.Errorf("operations.md does not mention `%s`", s)
		}
	}
	if !strings.Contains(readme, "`"+subjects.StoreEvent("<store>", "<kind>")+"`") {
		t.Errorf("README.md does not list the lifecycle event subject")
	}
}

// TestSchemaMatchesGoTypes checks that every object of messages.schema.json
// has exactly the keys of the Go struct's msgpack tags, in declaration order,
// that the required keys are the ones Marshal always writes (no omitempty),
// and that the JSON types agree with the Go types.
func TestSchemaMatchesGoTypes(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(schemasDir, "messages.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Schema string                     `json:"$schema"`
		Defs   map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	if schema.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema is %q, want draft 2020-12", schema.Schema)
	}
	type prop struct {
		Type            any    `json:"type"`
		Ref             string `json:"$ref"`
		ContentEncoding string `json:"contentEncoding"`
		Items           *prop  `json:"items"`
	}
	type object struct {
		Type                 string          `json:"type"`
		Required             []string        `json:"required"`
		AdditionalProperties *bool           `json:"additionalProperties"`
		Properties           json.RawMessage `json:"properties"`
	}
	// resolve follows a $ref to a helper definition (a string or integer
	// type); a $ref to a message stays a reference, written "$ref:Name".
	resolve := func(p *prop) (typ, contentEncoding string) {
		if p == nil {
			return "<none>", ""
		}
		for p.Ref != "" {
			name := strings.TrimPrefix(p.Ref, "#/$defs/")
			if _, isMessage := messageTypes[name]; isMessage {
				return "$ref:" + name, ""
			}
			var target prop
			if err := json.Unmarshal(schema.Defs[name], &target); err != nil {
				return "bad $ref " + p.Ref, ""
			}
			p = &target
		}
		return fmt.Sprint(p.Type), p.ContentEncoding
	}
	binSeen := map[string]bool{}
	for name, typ := range messageTypes {
		def, ok := schema.Defs[name]
		if !ok {
			t.Errorf("messages.schema.json has no $defs/%s", name)
			continue
		}
		var o object
		if err := json.Unmarshal(def, &o); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if o.Type != "object" || o.AdditionalProperties == nil || *o.AdditionalProperties {
			t.Errorf("%s: want type object with additionalProperties false", name)
		}
		ordered, err := parseOrdered(o.Properties)
		if err != nil || ordered.kind != jObject {
			t.Errorf("%s: bad properties: %v", name, err)
			continue
		}
		var props map[string]prop
		if err := json.Unmarshal(o.Properties, &props); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var keys, required []string
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			tag, opts, _ := strings.Cut(f.Tag.Get("msgpack"), ",")
			keys = append(keys, tag)
			if !strings.Contains(opts, "omitempty") {
				required = append(required, tag)
			}
			p, ok := props[tag]
			if !ok {
				continue // reported below
			}
			want := jsonTypeOf(f.Type)
			got, enc := resolve(&p)
			if got != want {
				t.Errorf("%s.%s: schema type %v, Go type %s wants %s", name, tag, got, f.Type, want)
			}
			if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() != reflect.Uint8 {
				if gotItem, _ := resolve(p.Items); gotItem != jsonTypeOf(f.Type.Elem()) {
					t.Errorf("%s.%s: schema items %v, want %s", name, tag, gotItem, jsonTypeOf(f.Type.Elem()))
				}
			}
			isBin := f.Type == reflect.TypeFor[[]byte]()
			if isBin != (enc == "base64") {
				t.Errorf("%s.%s: bin field %v but contentEncoding %q", name, tag, isBin, enc)
			}
			if isBin {
				binSeen[tag] = true
			}
		}
		if !slices.Equal(ordered.keys, keys) {
			t.Errorf("%s: schema properties %v, Go msgpack keys %v", name, ordered.keys, keys)
		}
		if !slices.Equal(o.Required, required) {
			t.Errorf("%s: schema required %v, want %v (the fields without omitempty)", name, o.Required, required)
		}
	}
	if !reflect.DeepEqual(binSeen, binFields) {
		t.Errorf("bin fields are %v, the tests assume %v", binSeen, binFields)
	}
}

// jsonTypeOf is the JSON Schema type of a Go field type.
func jsonTypeOf(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Uint64:
		return "integer"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string"
		}
		return "array"
	case reflect.Struct:
		return "$ref:" + t.Name()
	}
	return "unsupported " + t.String()
}
