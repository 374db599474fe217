package sqlexec

import (
	"slices"
	"testing"
)

func TestSQLTableRefs(t *testing.T) {
	known := func(s string) string {
		switch s {
		case "events", "users", "Mixed":
			return s
		case "mixed":
			return "Mixed"
		}
		return ""
	}
	for _, c := range []struct {
		in, out string
		tables  []string
	}{
		{"SELECT * FROM events WHERE id < 10", "SELECT * FROM events WHERE id < 10", []string{"events"}},
		{"select * from main.events e join flightwal.main.users u on e.id = u.id", "select * from events e join users u on e.id = u.id", []string{"events", "users"}},
		{`SELECT 'events', "users".x -- events
		FROM "users" /* main.events */`, `SELECT 'events', "users".x -- events
		FROM "users" /* main.events */`, []string{"users"}},
		{"SELECT * FROM MIXED, FLIGHTWAL.MAIN.EVENTS", "SELECT * FROM MIXED, EVENTS", []string{"Mixed", "events"}},
		{`SELECT * FROM "Events"`, `SELECT * FROM "Events"`, nil},
		{"SELECT * FROM nothing", "SELECT * FROM nothing", nil},
		{"SELECT 'unterminated", "SELECT 'unterminated", nil},
		{`SELECT "unterminated`, `SELECT "unterminated`, nil},
	} {
		out, tables := tableRefs(c.in, known)
		if out != c.out || !slices.Equal(tables, c.tables) {
			t.Errorf("tableRefs(%q) = %q, %v; want %q, %v", c.in, out, tables, c.out, c.tables)
		}
	}
}
