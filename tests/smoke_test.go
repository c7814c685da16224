package tests

import (
	"testing"

	"github.com/logbookdb/logbook/pkg/client"
)

func TestSmokeAppendRead(t *testing.T) {
	in := startLogbook(t)
	ctx := ctxT(t)
	res, err := in.Store.Append(ctx, "order-1", client.NoStream,
		client.Event{Type: "Placed", Data: []byte("a")}, client.Event{Type: "Paid", Data: []byte("b")})
	if err != nil {
		t.Fatal(err)
	}
	if res.FirstRevision != 0 || res.LastRevision != 1 || res.FirstPosition != 0 || res.LastPosition != 1 {
		t.Fatalf("append result %+v", res)
	}
	page, err := in.Store.Read(ctx, "order-1", client.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 2 || page.Events[1].Type != "Paid" || !page.EndOfStream {
		t.Fatalf("read %+v", page)
	}
}
