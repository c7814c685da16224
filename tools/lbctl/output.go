package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// asJSON is --json: every command prints its result as one JSON document
// (tail and subscribe: one JSON object a line) instead of text.
var asJSON bool

// jsonFlag registers --json on a command's flag set (it is also a global
// flag: `lbctl --json read x` and `lbctl read --json x` are the same).
func jsonFlag(fs *flag.FlagSet) {
	fs.BoolVar(&asJSON, "json", asJSON, "print the result as JSON (tail and subscribe: one object a line)")
}

// emit prints a result: with --json as one JSON document of its wire form
// (see wireJSON), else with text.
func emit(v any, text func()) error {
	if asJSON {
		return printWireJSON(v, "  ")
	}
	text()
	return nil
}

// printWireJSON prints v's wire form as JSON, indented by indent ("": on
// one line).
func printWireJSON(v any, indent string) error {
	j, err := wireJSON(v)
	if err != nil {
		return err
	}
	if indent == "" {
		_, err = fmt.Printf("%s\n", j)
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, j, "", indent); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err = os.Stdout.Write(buf.Bytes())
	return err
}

// wireJSON renders v as JSON with the field names of the wire protocol
// (schemas/), by way of its MessagePack encoding. A byte field (data,
// metadata) is its JSON value when its <name>_content_type is JSON and it
// holds valid JSON, else base64. Timestamps stay Unix nanoseconds.
func wireJSON(v any) ([]byte, error) {
	b, err := wire.Marshal(v)
	if err != nil {
		return nil, err
	}
	var generic any
	if err := msgpack.Unmarshal(b, &generic); err != nil {
		return nil, fmt.Errorf("lbctl: re-decode %T: %w", v, err)
	}
	return json.Marshal(jsonBytes(generic))
}

// jsonBytes replaces, at any depth, the byte fields holding JSON of a JSON
// content type by their raw JSON.
func jsonBytes(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if b, ok := val.([]byte); ok {
				ct, _ := t[k+"_content_type"].(string)
				if isJSONType(ct) && json.Valid(b) {
					t[k] = json.RawMessage(b)
				}
				continue
			}
			t[k] = jsonBytes(val)
		}
	case []any:
		for i := range t {
			t[i] = jsonBytes(t[i])
		}
	}
	return v
}

func isJSONType(ct string) bool {
	ct, _, _ = strings.Cut(ct, ";")
	ct = strings.TrimSpace(ct)
	return ct == "application/json" || strings.HasSuffix(ct, "+json")
}

// showOne runs a command of one argument that prints what get returns for
// it: as JSON, or with text.
func showOne[T any](ctx context.Context, fs *flag.FlagSet, rest []string, get func(context.Context, string) (*T, error), text func(*T)) error {
	args, err := parseAnywhere(fs, rest, 1)
	if err != nil {
		return err
	}
	v, err := get(ctx, args[0])
	if err != nil {
		return err
	}
	return emit(v, func() { text(v) })
}

// page is a paged listing's argument and its --after and --limit.
type page struct {
	arg   string
	after *uint64
	limit int
}

// parsePage registers --after (of what after is) and --limit (default
// limit), and parses the listing's one argument.
func parsePage(fs *flag.FlagSet, rest []string, after string, limit int) (page, error) {
	a := fs.Int64("after", -1, "list the "+after+" after this one (the previous page's last, or its next)")
	l := fs.Int("limit", limit, "max entries (0: the server's default)")
	args, err := parseAnywhere(fs, rest, 1)
	if err != nil {
		return page{}, err
	}
	return page{args[0], optUint(*a), *l}, nil
}

// optUint is the value of an optional flag whose default is -1: nil when
// not given.
func optUint(v int64) *uint64 {
	if v < 0 {
		return nil
	}
	u := uint64(v)
	return &u
}

// printEvent prints one event on one line.
func printEvent(e *client.RecordedEvent) {
	fmt.Printf("#%d %s@%d %s %s %s\n", e.Position, e.Stream, e.Revision, e.Type, ts(e.Timestamp), e.Data)
}
