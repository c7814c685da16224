package broadcast

import "testing"

func TestFireWakesEarlierWaitersOnly(t *testing.T) {
	s := New()
	before := s.C()
	s.Fire()
	select {
	case <-before:
	default:
		t.Fatal("a channel taken before Fire is not closed")
	}
	after := s.C()
	select {
	case <-after:
		t.Fatal("a channel taken after Fire is closed before the next Fire")
	default:
	}
	s.Fire()
	<-after
}
