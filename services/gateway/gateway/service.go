package gateway

// The NATS micro service protocol ($SRV.PING|INFO|STATS), served by the
// gateway itself. nats.go's micro package records a request's outcome and
// time when its handler returns, from what req.Respond/req.Error stored in
// the request; but a handler runs on its subscription's one goroutine, so
// the gateway hands each request to a goroutine of its own and returns at
// once (a slow request must not hold up the others). Answering through
// req.Error from there raced with micro reading the outcome, and answering
// around it left $SRV.STATS counting no errors and timing only the hand-off.
// Here the request's own goroutine records its outcome and full time when it
// has answered; the answers to PING, INFO and STATS are micro's own types.

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/logbookdb/logbook/pkg/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nuid"
)

// service is one gateway's instance of the micro service.
type service struct {
	nc          *nats.Conn
	identity    micro.ServiceIdentity
	description string
	started     time.Time
	endpoints   []*endpoint
	verbs       []*nats.Subscription
}

// endpoint is a subject served in the queue group, with its stats.
type endpoint struct {
	name, subject, queue string
	sub                  *nats.Subscription

	mu        sync.Mutex
	requests  int
	errors    int
	lastError string
	total     time.Duration
}

func newService(nc *nats.Conn, name, version, description string) *service {
	return &service{
		nc:          nc,
		identity:    micro.ServiceIdentity{Name: name, ID: nuid.Next(), Version: version, Metadata: map[string]string{}},
		description: description,
		started:     time.Now().UTC(),
	}
}

// addEndpoint subscribes handle to subject in the queue group, with
// pending limits (0: nats.go's defaults).
func (s *service) addEndpoint(name, subject, queue string, msgs, bytes int, handle func(*endpoint, *nats.Msg)) error {
	e := &endpoint{name: name, subject: subject, queue: queue}
	sub, err := s.nc.QueueSubscribe(subject, queue, func(m *nats.Msg) { handle(e, m) })
	if err != nil {
		return fmt.Errorf("endpoint %s: %w", name, err)
	}
	if msgs != 0 {
		if err := sub.SetPendingLimits(msgs, bytes); err != nil {
			sub.Unsubscribe()
			return fmt.Errorf("endpoint %s: %w", name, err)
		}
	}
	e.sub = sub
	s.endpoints = append(s.endpoints, e)
	return nil
}

// record counts one answered request: errText is its error ("" if none),
// d the time from its arrival to its answer.
func (e *endpoint) record(d time.Duration, errText string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests++
	e.total += d
	if errText != "" {
		e.errors++
		e.lastError = errText
	}
}

func (e *endpoint) stats() *micro.EndpointStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := &micro.EndpointStats{Name: e.name, Subject: e.subject, QueueGroup: e.queue,
		NumRequests: e.requests, NumErrors: e.errors, LastError: e.lastError, ProcessingTime: e.total}
	if e.requests > 0 {
		st.AverageProcessingTime = e.total / time.Duration(e.requests)
	}
	return st
}

// serveVerbs answers PING, INFO and STATS on $SRV.<verb>, $SRV.<verb>.<name>
// and $SRV.<verb>.<name>.<id>, as every micro service does.
func (s *service) serveVerbs() error {
	answers := map[micro.Verb]func() any{
		micro.PingVerb: func() any { return micro.Ping{ServiceIdentity: s.identity, Type: micro.PingResponseType} },
		micro.InfoVerb: func() any {
			info := micro.Info{ServiceIdentity: s.identity, Type: micro.InfoResponseType, Description: s.description, Endpoints: []micro.EndpointInfo{}}
			for _, e := range s.endpoints {
				info.Endpoints = append(info.Endpoints, micro.EndpointInfo{Name: e.name, Subject: e.subject, QueueGroup: e.queue})
			}
			return info
		},
		micro.StatsVerb: func() any {
			st := micro.Stats{ServiceIdentity: s.identity, Type: micro.StatsResponseType, Started: s.started, Endpoints: []*micro.EndpointStats{}}
			for _, e := range s.endpoints {
				st.Endpoints = append(st.Endpoints, e.stats())
			}
			return st
		},
	}
	for verb, answer := range answers {
		for _, ids := range [][2]string{{"", ""}, {s.identity.Name, ""}, {s.identity.Name, s.identity.ID}} {
			subject, err := micro.ControlSubject(verb, ids[0], ids[1])
			if err != nil {
				return err
			}
			sub, err := s.nc.Subscribe(subject, func(m *nats.Msg) {
				if !wire.IsInboxSubject(m.Reply) {
					return // answered only to an inbox (see Gateway.onRequest)
				}
				data, _ := json.Marshal(answer()) // micro's own types: they marshal
				m.Respond(data)
			})
			if err != nil {
				return fmt.Errorf("%s: %w", subject, err)
			}
			s.verbs = append(s.verbs, sub)
		}
	}
	return nil
}

// stop drains the endpoints (requests already delivered still reach their
// handler) and leaves the verb subjects.
func (s *service) stop() error {
	var first error
	for _, e := range s.endpoints {
		if err := e.sub.Drain(); err != nil && first == nil && err != nats.ErrConnectionClosed {
			first = err
		}
	}
	for _, sub := range s.verbs {
		sub.Unsubscribe()
	}
	return first
}
