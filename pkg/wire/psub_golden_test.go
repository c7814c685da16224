package wire_test

// Golden vectors of persistent subscriptions (schemas/testdata/psub), checked
// like the top-level ones in golden_test.go: exact bytes both ways, the JSON
// packed by a language-neutral packer, valid requests accepted, invalid
// payloads rejected with the documented code; and the protocol document
// covers every operation, message and code.

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/logbookdb/logbook/pkg/codes"
	"github.com/logbookdb/logbook/pkg/subjects"
	"github.com/logbookdb/logbook/pkg/wire"
)

var psubDir = filepath.Join(testdataDir, "psub")

var psubMessageTypes = map[string]reflect.Type{
	"CreateSubscriptionRequest": reflect.TypeFor[wire.CreateSubscriptionRequest](),
	"UpdateSubscriptionRequest": reflect.TypeFor[wire.UpdateSubscriptionRequest](),
	"SubscriptionRequest":       reflect.TypeFor[wire.SubscriptionRequest](),
	"ListSubscriptionsRequest":  reflect.TypeFor[wire.ListSubscriptionsRequest](),
	"SubscriptionInfo":          reflect.TypeFor[wire.SubscriptionInfo](),
	"ListSubscriptionsReply":    reflect.TypeFor[wire.ListSubscriptionsReply](),
	"DeleteSubscriptionReply":   reflect.TypeFor[wire.DeleteSubscriptionReply](),
	"JoinRequest":               reflect.TypeFor[wire.JoinRequest](),
	"JoinReply":                 reflect.TypeFor[wire.JoinReply](),
	"AckRequest":                reflect.TypeFor[wire.AckRequest](),
	"AckReply":                  reflect.TypeFor[wire.AckReply](),
	"Delivery":                  reflect.TypeFor[wire.Delivery](),
	"ParkedRequest":             reflect.TypeFor[wire.ParkedRequest](),
	"ParkedReply":               reflect.TypeFor[wire.ParkedReply](),
	"ReplayRequest":             reflect.TypeFor[wire.ReplayRequest](),
	"ReplayReply":               reflect.TypeFor[wire.ReplayReply](),
	"ErrorReply":                reflect.TypeFor[wire.ErrorReply](),
}

var psubOps = []string{subjects.OpPSubCreate, subjects.OpPSubUpdate, subjects.OpPSubDelete, subjects.OpPSubList,
	subjects.OpPSubInfo, subjects.OpPSubJoin, subjects.OpPSubAck, subjects.OpPSubParked, subjects.OpPSubReplay}

var psubCodes = []codes.Code{codes.InvalidFilter, codes.InvalidSubscriptionName, codes.SubscriptionNotFound,
	codes.ConsumerNotFound, codes.EventNotInFlight, codes.SubscriptionAlreadyExists, codes.EventAlreadyAcked,
	codes.SubscriptionLimitReached}

func TestPSubGoldenVectors(t *testing.T) {
	entries, err := os.ReadDir(psubDir)
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	n := 0
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if e.IsDir() || !ok {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(psubDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			var c goldenCase
			d := json.NewDecoder(bytes.NewReader(b))
			d.DisallowUnknownFields()
			if err := d.Decode(&c); err != nil {
				t.Fatal(err)
			}
			typ, ok := psubMessageTypes[c.Message]
			if !ok {
				t.Fatalf("unknown message %q", c.Message)
			}
			covered[c.Message] = true
			if c.Operation != "" && !slices.Contains(psubOps, c.Operation) {
				t.Errorf("unknown operation %q", c.Operation)
			}
			if c.Description == "" || !slices.Contains([]string{"request", "reply", "error", "event"}, c.Kind) {
				t.Errorf("kind %q, description %q", c.Kind, c.Description)
			}
			data, err := os.ReadFile(filepath.Join(psubDir, name+".msgpack"))
			if err != nil {
				t.Fatal(err)
			}
			want := reflect.New(typ)
			if err := decodeJSONValue(c.Value, want.Interface()); err != nil {
				t.Fatalf("json value: %v", err)
			}
			got, err := wire.Marshal(want.Elem().Interface())
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("wire.Marshal = %x, %v\n           want %x", got, err, data)
			}
			dec := reflect.New(typ)
			if err := wire.Unmarshal(data, dec.Interface()); err != nil {
				t.Fatalf("wire.Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(dec.Interface(), want.Interface()) {
				t.Errorf("wire.Unmarshal = %+v\n            want %+v", dec.Elem().Interface(), want.Elem().Interface())
			}
			packed, err := packJSON(c.Value)
			if err != nil || !bytes.Equal(packed, data) {
				t.Errorf("json packed = %x, %v\n       want %x", packed, err, data)
			}
			switch c.Kind {
			case "request":
				if err := wire.DecodeRequest(c.Operation, data, wire.DefaultLimits()); err != nil {
					t.Errorf("decode request (%s): %v", c.Operation, err)
				}
			case "event":
				if _, err := wire.DecodeDelivery(data); err != nil {
					t.Errorf("decode delivery: %v", err)
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("no golden cases in " + psubDir)
	}
	for m := range psubMessageTypes {
		if !covered[m] {
			t.Errorf("message %s has no golden case", m)
		}
	}
}

func TestPSubInvalidVectors(t *testing.T) {
	dir := filepath.Join(psubDir, "invalid")
	b, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]invalidCase
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no invalid cases")
	}
	for file, c := range cases {
		t.Run(strings.TrimSuffix(file, ".msgpack"), func(t *testing.T) {
			want, ok := codes.FromName(c.Code)
			if !ok || int(want) != c.CodeNumber || c.Description == "" {
				t.Fatalf("case %+v", c)
			}
			data, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			err = wire.DecodeRequest(c.Operation, data, wire.DefaultLimits())
			var ce *codes.Error
			if !errors.As(err, &ce) || ce.Code != want {
				t.Errorf("decode request (%s) = %v, want %s", c.Operation, err, c.Code)
			}
		})
	}
}

// TestPSubDocumented: the protocol document names every operation (with
// its subject), every message and every code, and the code table of
// errors.md lists the codes (TestCodesAreDocumented checks the rows).
func TestPSubDocumented(t *testing.T) {
	doc := readDoc(t, "persistent-subscriptions.md")
	readme := readDoc(t, "README.md")
	if !strings.Contains(readme, "persistent-subscriptions.md") {
		t.Error("README.md does not link persistent-subscriptions.md")
	}
	for _, op := range psubOps {
		if _, ok := wire.StoreOps[op]; !ok {
			t.Errorf("%s is not in wire.StoreOps", op)
		}
		if !strings.Contains(doc, "### `"+op+"`") || !strings.Contains(doc, "`"+subjects.Store("<store>", op)+"`") {
			t.Errorf("persistent-subscriptions.md has no section ### `%s` giving its subject", op)
		}
	}
	for m := range psubMessageTypes {
		if !strings.Contains(doc, m) {
			t.Errorf("persistent-subscriptions.md does not describe %s", m)
		}
	}
	for _, c := range psubCodes {
		if !strings.Contains(doc, "`"+c.Name()+"`") {
			t.Errorf("persistent-subscriptions.md does not mention `%s`", c.Name())
		}
	}
}

// TestPSubSchema: messages.schema.json describes every persistent
// subscription message with exactly the Go type's keys, in order, and the
// fields that are always written as required.
func TestPSubSchema(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(schemasDir, "messages.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	types := map[string]reflect.Type{
		"SubscriptionFilter":   reflect.TypeFor[wire.SubscriptionFilter](),
		"SubscriptionSettings": reflect.TypeFor[wire.SubscriptionSettings](),
		"ConsumerInfo":         reflect.TypeFor[wire.ConsumerInfo](),
		"ParkedEvent":          reflect.TypeFor[wire.ParkedEvent](),
	}
	for name, typ := range psubMessageTypes {
		types[name] = typ
	}
	for name, typ := range types {
		def, ok := schema.Defs[name]
		if !ok {
			t.Errorf("messages.schema.json has no $defs/%s", name)
			continue
		}
		var o struct {
			Type                 string          `json:"type"`
			Required             []string        `json:"required"`
			AdditionalProperties *bool           `json:"additionalProperties"`
			Properties           json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(def, &o); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ordered, err := parseOrdered(o.Properties)
		if err != nil || o.Type != "object" || o.AdditionalProperties == nil || *o.AdditionalProperties {
			t.Errorf("%s: want an object with additionalProperties false (%v)", name, err)
			continue
		}
		var keys, required []string
		for i := 0; i < typ.NumField(); i++ {
			tag, opts, _ := strings.Cut(typ.Field(i).Tag.Get("msgpack"), ",")
			keys = append(keys, tag)
			if !strings.Contains(opts, "omitempty") {
				required = append(required, tag)
			}
		}
		if !slices.Equal(ordered.keys, keys) {
			t.Errorf("%s: schema properties %v, Go keys %v", name, ordered.keys, keys)
		}
		if !slices.Equal(o.Required, required) && !(len(o.Required) == 0 && len(required) == 0) {
			t.Errorf("%s: schema required %v, want %v", name, o.Required, required)
		}
	}
}
