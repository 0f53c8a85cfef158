package config

import (
	"strings"
	"testing"
)

// An edge whose login is not its node ID publishes into an ACL that drops
// everything it sends; the broker still acknowledges it, so only the
// configuration check can tell.
func TestUsernameOtherThanNodeWarns(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"no login", minimal, ""},
		{"login is the node ID", minimal + "mqtt: {username: rack1}\n", ""},
		{"login of another rack", minimal + "mqtt:\n  username: rack2\n", `edge.yaml:4: mqtt.username: "rack2" is not edge.node "rack1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			w := strings.Join(c.Warnings(), "\n")
			if tc.want == "" && strings.Contains(w, "mqtt.username") || !strings.Contains(w, tc.want) {
				t.Errorf("warnings %q, want %q", w, tc.want)
			}
		})
	}
}
