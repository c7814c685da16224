package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/logbookdb/logbook/pkg/client"
)

// streamCmd runs the stream commands (append, read, read-all, streams, info,
// delete); ok is false for another command.
func streamCmd(ctx context.Context, s *client.Store, cmd string, rest []string) (ok bool, err error) {
	fs := newFlags(cmd)
	switch cmd {
	case "append":
		ct := fs.String("content-type", "application/json", "content type of the data")
		expect := fs.String("expect", "any", "expected revision: any, no_stream, stream_exists or a number")
		a, err := parseArgs(fs, rest, 2, 3)
		if err != nil {
			return true, err
		}
		exp, err := parseExpect(*expect)
		if err != nil {
			return true, err
		}
		ev := client.Event{Type: a[1], DataContentType: *ct}
		if len(a) > 2 {
			ev.Data = []byte(a[2])
		}
		r, err := s.Append(ctx, a[0], exp, ev)
		if err != nil {
			return true, err
		}
		return true, emit(r, func() {
			fmt.Printf("appended %s revision %d at position %d%s\n", a[0], r.FirstRevision, r.FirstPosition, dupNote(r.Duplicate))
		})
	case "read":
		backward := fs.Bool("backward", false, "read backward (from the end unless --from)")
		from := fs.Int64("from", -1, "first revision")
		max := fs.Int("max", 100, "max events")
		a, err := parseAnywhere(fs, rest, 1)
		if err != nil {
			return true, err
		}
		o := client.ReadOptions{MaxCount: *max, Direction: dir(*backward)}
		if *from >= 0 {
			o.From = client.Revision(uint64(*from))
		}
		p, err := s.Read(ctx, a[0], o)
		if err != nil {
			return true, err
		}
		return true, emit(p, func() {
			for i := range p.Events {
				printEvent(&p.Events[i])
			}
			fmt.Printf("-- last revision %d, end of stream: %v, next: %d\n", p.LastRevision, p.EndOfStream, p.NextRevision)
		})
	case "read-all":
		backward := fs.Bool("backward", false, "read backward (from the end unless --from)")
		from := fs.Int64("from", -1, "first position")
		max := fs.Int("max", 100, "max events")
		prefix := fs.String("prefix", "", "only streams with this prefix")
		category := fs.String("category", "", "only streams of this category (name before the first '-')")
		typ := fs.String("type", "", "only events of this type")
		if _, err := parseAnywhere(fs, rest, 0); err != nil {
			return true, err
		}
		o := client.ReadAllOptions{MaxCount: *max, Direction: dir(*backward)}
		if *from >= 0 {
			o.From = client.Revision(uint64(*from))
		}
		if *prefix != "" || *category != "" || *typ != "" {
			o.Filter = &client.Filter{StreamPrefix: *prefix, Category: *category}
			if *typ != "" {
				o.Filter.EventTypes = []string{*typ}
			}
		}
		p, err := s.ReadAll(ctx, o)
		if err != nil {
			return true, err
		}
		return true, emit(p, func() {
			for i := range p.Events {
				printEvent(&p.Events[i])
			}
			fmt.Printf("-- end of store: %v, next position: %d\n", p.EndOfStore, p.NextPosition)
		})
	case "streams":
		prefix := fs.String("prefix", "", "only names with this prefix")
		after := fs.String("after", "", "start after this name")
		limit := fs.Int("limit", 100, "max streams")
		if _, err := parseAnywhere(fs, rest, 0); err != nil {
			return true, err
		}
		l, err := s.ListStreams(ctx, client.ListOptions{Prefix: *prefix, After: *after, Limit: *limit})
		if err != nil {
			return true, err
		}
		return true, emit(l, func() {
			for _, st := range l.Streams {
				del := ""
				if st.Deleted {
					del = " (deleted)"
				}
				fmt.Printf("%s  revision %d  events %d%s\n", st.Stream, st.LastRevision, st.EventCount, del)
			}
			if l.Next != "" {
				fmt.Printf("-- more: --after %q\n", l.Next)
			}
		})
	case "info":
		return true, showOne(ctx, fs, rest, s.StreamInfo, func(i *client.StreamInfo) {
			fmt.Printf("stream %s\n  last revision %d\n  events %d\n  positions %d..%d\n  created %s\n  updated %s\n  deleted %v\n",
				i.Stream, i.LastRevision, i.EventCount, i.FirstPosition, i.LastPosition, ts(i.Created), ts(i.Updated), i.Deleted)
		})
	case "delete":
		expect := fs.String("expect", "any", "expected revision: any, stream_exists or a number")
		a, err := parseAnywhere(fs, rest, 1)
		if err != nil {
			return true, err
		}
		exp, err := parseExpect(*expect)
		if err != nil {
			return true, err
		}
		r, err := s.DeleteStream(ctx, a[0], exp)
		if err != nil {
			return true, err
		}
		return true, emit(r, func() { fmt.Printf("deleted %s at revision %d\n", r.Stream, r.LastRevision) })
	}
	return false, nil
}

func parseExpect(s string) (client.ExpectedRevision, error) {
	switch s {
	case "any":
		return client.Any, nil
	case "no_stream":
		return client.NoStream, nil
	case "stream_exists":
		return client.StreamExists, nil
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return client.Any, fmt.Errorf("--expect %q: want any, no_stream, stream_exists or a revision", s)
	}
	return client.Exact(n), nil
}

func dir(backward bool) client.Direction {
	if backward {
		return client.Backward
	}
	return client.Forward
}

func dupNote(dup bool) string {
	if dup {
		return " (already written: duplicate)"
	}
	return ""
}
