package tests

import (
	"testing"
	"time"

	"github.com/logbookdb/logbook/pkg/client"
	"github.com/logbookdb/logbook/pkg/codes"
)

func TestStoreLifecycleSmoke(t *testing.T) {
	in := startLogbook(t)
	ctx, st := ctxT(t), in.Client.Stores()
	events := make(chan client.StoreEvent, 16)
	sub, err := st.SubscribeEvents("", func(e client.StoreEvent) { events <- e })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	in.Client.Conn().Flush()
	r, err := st.Create(ctx, "tenant-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status.Status != "running" || r.Config.ReplicationFactor != 1 || r.Existed {
		t.Fatalf("create: %+v", r)
	}
	if _, err := in.Client.Store("tenant-a").Append(ctx, "s", client.NoStream, ev("E", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Remove(ctx, "tenant-a"); err != nil {
		t.Fatal(err)
	}
	_, err = st.Remove(ctx, "default")
	wantCode(t, err, codes.StoreProtected)
	deadline := time.After(10 * time.Second)
	var kinds []string
	for len(kinds) < 4 {
		select {
		case e := <-events:
			kinds = append(kinds, e.Store+":"+e.Kind+":"+e.Status)
		case <-deadline:
			t.Fatalf("events so far: %v", kinds)
		}
	}
	t.Log(kinds)
	_, err = st.Status(ctx, "tenant-a")
	wantCode(t, err, codes.StoreNotFound)
	l, err := st.List(ctx, "", 0)
	if err != nil || len(l.Stores) != 1 || l.Stores[0].Store != "default" {
		t.Fatalf("list %+v %v", l, err)
	}
}
